"""Choosing the spelled name among the census names it could be (``dialog/name_choice.py``)."""

from __future__ import annotations

import pytest

from voice_agent.dialog.name_choice import (
    LETTER_FLOOR,
    MAX_SCORED,
    choose_name,
    name_spelled,
    names_to_score,
    spelling_candidates,
)
from voice_agent.dialog.name_lexicon import name_lexicon
from voice_agent.dialog.spelling import LetterScores


@pytest.fixture(scope="module")
def lexicon():
    return name_lexicon()


def test_the_census_knows_common_names_in_their_place(lexicon) -> None:
    assert lexicon.known("Dana Smith") and lexicon.known("Megan Foster")
    assert lexicon.known("José Núñez") is lexicon.known("Jose Nunez")
    assert not lexicon.known("Emission Void")  # what "a name" came through as
    assert not lexicon.known("Then Call")
    assert not lexicon.known("Smith Dana")  # "Dana" is no surname in the census
    assert lexicon.known("Smith")  # a lone word: a first name or a surname


def test_rivals_are_the_names_a_letter_or_two_away_most_confusable_first(lexicon) -> None:
    rivals = lexicon.rivals("Dana Smith")
    assert "Dana Smith" not in rivals
    assert all(r.endswith(" Smith") or r.startswith("Dana ") for r in rivals)
    assert rivals[0] == "Tana Smith"  # D and T rhyme: the hardest to tell apart
    assert "Dana Smyth" in rivals


def test_spelled_letters_snap_to_the_nearest_census_names(lexicon) -> None:
    assert lexicon.snaps("danasmith")[0] == "Dana Smith"
    # measured over a phone line: "H, B, T, H, I, L, D, T, U, R, M, E, R" for Abigail Turner
    assert lexicon.snaps("hbthildturmer")[0] == "Abigail Turner"
    assert lexicon.snaps("x") == []


def test_the_names_scored_are_the_candidates_then_their_rivals(lexicon) -> None:
    candidates = spelling_candidates("Dana Smith", "danazfnsth", lexicon)
    assert candidates[0] == "Dana Smith" and len(candidates) == len(set(candidates))
    names = names_to_score(candidates, lexicon)
    assert names[:len(candidates)] == candidates and len(names) <= MAX_SCORED
    assert "Tana Smith" in names
    assert names_to_score(["Emission Void"], lexicon) == ["Emission Void"]  # no rivals


def _scores(total_by_name: dict[str, float]) -> dict[str, tuple[tuple[float, ...], ...]]:
    """Two words of letters whose log-probabilities add up to each total."""
    return {name: ((total / 2, 0.0), (total / 2,)) for name, total in total_by_name.items()}


def test_the_heard_name_is_taken_when_the_audio_prefers_it_by_the_margin(lexicon) -> None:
    scored = _scores({"Dana Smith": -3.0, "Tana Smith": -6.0, "Diana Smith": -9.0})
    chosen = choose_name("Dana Smith", ["Dana Smith"], scored, lexicon, prior_weight=0.0)
    assert chosen is not None and chosen.name == "Dana Smith" and chosen.source == "heard"
    assert chosen.margin == 3.0 and chosen.rival == "Tana Smith"


def test_no_name_is_taken_when_a_rival_is_nearly_as_likely(lexicon) -> None:
    scored = _scores({"Dana Smith": -3.0, "Tana Smith": -3.5})
    assert choose_name("Dana Smith", ["Dana Smith"], scored, lexicon, prior_weight=0.0) is None


def test_how_common_a_name_is_weighs_in_where_the_audio_cannot_tell(lexicon) -> None:
    """D and T rhyme: the audio prefers Tama a little; Dana is far more common."""
    scored = _scores({"Dana Smith": -3.0, "Tama Smith": -2.5})
    chosen = choose_name("Dana Smith", ["Dana Smith"], scored, lexicon, prior_weight=1.0)
    assert chosen is not None and chosen.name == "Dana Smith"
    assert chosen.margin == pytest.approx(4.3, abs=0.1)  # ln(share) 4.8 apart, less 0.5


def test_a_rival_that_wins_is_not_taken_its_own_rivals_were_never_scored(lexicon) -> None:
    scored = _scores({"Dana Smith": -9.0, "Tana Smith": -1.0})
    assert choose_name("Dana Smith", ["Dana Smith"], scored, lexicon, prior_weight=0.0) is None


def test_a_name_the_census_lacks_is_never_taken(lexicon) -> None:
    scored = _scores({"Emission Void": -1.0, "Emission Wood": -9.0})
    assert choose_name("Emission Void", ["Emission Void"], scored, lexicon) is None


def test_one_letter_the_audio_contradicts_vetoes_the_name(lexicon) -> None:
    scored = _scores({"Dana Smith": -3.0, "Tana Smith": -30.0})
    veto = LETTER_FLOOR - 0.5
    scored["Dana Smith"] = ((-0.1, -0.1, -0.1, -0.1, -0.1), (-0.1, -0.1, -0.1, veto, -0.1))
    assert choose_name("Dana Smith", ["Dana Smith"], scored, lexicon) is None


def test_a_name_spelled_otherwise_than_heard_needs_the_larger_margin(lexicon) -> None:
    """Heard "Abigail Turma" (no census surname); the letters snap to Abigail Turner."""
    close = _scores({"Abigail Turner": -4.0, "Abigail Turma": -6.5, "Abigail Burner": -7.0})
    candidates = ["Abigail Turma", "Abigail Turner"]
    assert choose_name("Abigail Turma", candidates, close, lexicon, heard_margin=2.0,
                       spelled_margin=4.0, prior_weight=0.0) is None  # 2.5: not enough
    clear = _scores({"Abigail Turner": -4.0, "Abigail Turma": -12.0, "Abigail Burner": -9.0})
    chosen = choose_name("Abigail Turma", candidates, clear, lexicon, heard_margin=2.0,
                         spelled_margin=4.0, prior_weight=0.0)
    assert chosen is not None and chosen.name == "Abigail Turner"
    assert chosen.source == "spelled"


def test_without_the_recogniser_scores_nothing_is_chosen() -> None:
    assert name_spelled("Dana Smith", None) is None
    plain = LetterScores("Dana Smith", ((-0.1,) * 5, (-0.1,) * 6))
    assert name_spelled("Dana Smith", plain) is None  # scored against the heard name only
