"""Does the spelling single out the heard name among the census names it could be
(``dialog/name_choice.py``, ``dialog/name_lexicon.py``)?"""

from __future__ import annotations

import pytest

from voice_agent.dialog.name_choice import (
    LETTER_FLOOR,
    MAX_LETTER_DISTANCE,
    MAX_SCORED,
    above_floor,
    choose_name,
    name_spelled,
    names_to_score,
)
from voice_agent.dialog.name_lexicon import name_lexicon
from voice_agent.dialog.spelling import LetterScores, letter_distance

# The margin logic alone: no prior, no transcript check.
PLAIN = {"heard_margin": 2.0, "prior_weight": 0.0, "max_distance": 99.0}


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


def test_how_common_a_name_is(lexicon) -> None:
    assert lexicon.log_prior("Dana Smith") > lexicon.log_prior("Tama Smith") + 4
    assert lexicon.log_prior("Emission Void") is None


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


def test_the_names_scored_are_the_heard_name_the_snaps_and_its_rivals(lexicon) -> None:
    names = names_to_score("Dana Smith", "danazfnsth", lexicon)
    assert names[0] == "Dana Smith" and len(names) == len(set(names)) <= MAX_SCORED
    assert "Tana Smith" in names
    assert names_to_score("Emission Void", "mfdnvlyd", lexicon) == ["Emission Void"]


def test_only_the_heard_name_is_scored_when_no_score_could_get_it_taken(lexicon) -> None:
    # The letters as transcribed are too far from the heard name: choose_name refuses it
    # whatever its rivals score, so none is decoded (each costs the caller ~0.1 s).
    assert letter_distance("Dana Smith", "bprqwlk") > MAX_LETTER_DISTANCE
    assert names_to_score("Dana Smith", "bprqwlk", lexicon) == ["Dana Smith"]
    assert len(names_to_score("Dana Smith", "bprqwlk", lexicon, max_distance=None)) > 1


def test_a_letter_below_the_floor_leaves_the_rivals_unscored() -> None:
    # Judged: every letter and the name's end, not the "then" between words.
    assert above_floor(((-1.0, -9.0), (-2.0, -0.5)))
    assert not above_floor(((-1.0, -9.0), (-8.5, -0.5)))
    assert not above_floor(())


def _scores(total_by_name: dict[str, float]) -> dict[str, tuple[tuple[float, ...], ...]]:
    """Two words of letters whose judged log-probabilities (the "then" aside) add up to each
    total."""
    return {name: ((total / 2, -9.0), (total / 2,)) for name, total in total_by_name.items()}


def test_the_heard_name_is_taken_when_the_audio_prefers_it_by_the_margin(lexicon) -> None:
    scored = _scores({"Dana Smith": -3.0, "Tana Smith": -6.0, "Diana Smith": -9.0})
    chosen = choose_name("Dana Smith", "danasmith", scored, lexicon, **PLAIN)
    assert chosen is not None and chosen.name == "Dana Smith"
    assert chosen.margin == 3.0 and chosen.rival == "Tana Smith"


def test_no_name_is_taken_when_a_rival_is_nearly_as_likely(lexicon) -> None:
    scored = _scores({"Dana Smith": -3.0, "Tana Smith": -3.5})
    assert choose_name("Dana Smith", "danasmith", scored, lexicon, **PLAIN) is None


def test_a_name_the_letters_point_to_instead_blocks_the_heard_one(lexicon) -> None:
    """The heard name is the only one ever taken; a snap or rival that fits better means
    the caller may have said something else."""
    scored = _scores({"Dana Smith": -9.0, "Tana Smith": -1.0})
    assert choose_name("Dana Smith", "tanasmith", scored, lexicon, **PLAIN) is None


def test_how_common_a_name_is_weighs_in_where_the_audio_cannot_tell(lexicon) -> None:
    """D and T rhyme: the audio prefers Tama a little; Dana is far more common."""
    scored = _scores({"Dana Smith": -3.0, "Tama Smith": -2.5})
    chosen = choose_name("Dana Smith", "danasmith", scored, lexicon,
                         **(PLAIN | {"prior_weight": 1.0}))
    assert chosen is not None and chosen.name == "Dana Smith"
    assert chosen.margin == pytest.approx(4.3, abs=0.1)  # ln(share) 4.8 apart, less 0.5


def test_a_name_the_census_lacks_is_never_taken(lexicon) -> None:
    scored = _scores({"Emission Void": -1.0, "Emission Wood": -9.0})
    assert choose_name("Emission Void", "emissionvoid", scored, lexicon, **PLAIN) is None


def test_one_letter_the_audio_contradicts_vetoes_the_name(lexicon) -> None:
    scored = _scores({"Dana Smith": -3.0, "Tana Smith": -30.0})
    veto = LETTER_FLOOR - 0.5
    scored["Dana Smith"] = ((-0.1, -0.1, -0.1, -0.1, -0.1), (-0.1, -0.1, -0.1, veto, -0.1))
    assert choose_name("Dana Smith", "danasmith", scored, lexicon) is None


def test_a_heard_name_far_from_the_letters_transcribed_is_refused(lexicon) -> None:
    """Measured: "John White" heard for John Weiss, whose spelling came through as
    "J, L, H, N, D, S, S". However White compares with its neighbours, it is not what was
    spelled."""
    scored = _scores({"John White": -3.0, "John Whitt": -9.0})
    assert choose_name("John White", "jlhndss", scored, lexicon,
                       **(PLAIN | {"max_distance": 0.6})) is None
    assert choose_name("John White", "johnwhite", scored, lexicon,
                       **(PLAIN | {"max_distance": 0.6})) is not None


def test_without_the_recogniser_scores_nothing_is_chosen() -> None:
    assert name_spelled("Dana Smith", "danasmith", None) is None
    plain = LetterScores("Dana Smith", ((-0.1,) * 5, (-0.1,) * 6))
    assert name_spelled("Dana Smith", "danasmith", plain) is None  # no rivals scored
    other = LetterScores("Tina Smith", plain.words, _scores({"Tina Smith": -1.0}))
    assert name_spelled("Dana Smith", "danasmith", other) is None  # another name's scores


def test_a_name_most_of_whose_letters_the_audio_contradicts_is_not_taken(lexicon) -> None:
    """Measured (census test half, Piper, band+snr15): Jan Graves spelled, James Green
    heard; James Green beat every name scored by 2.2, but the caller's name was not among
    them and its median letter was at -3.2. Most letters must fit, not only better than
    the neighbours'."""
    def word(*letters: float) -> tuple[float, ...]:
        return (*letters, -0.1)  # the word's end ("then", the final period)

    bad = {"James Green": (word(-0.2, -0.1, -3.2, -7.4, -3.6), word(-1.0, 0.0, -6.1, -5.4, -6.3)),
           "Jame Green": (word(-0.2, -0.1, -3.2, -7.4), word(-3.8, -3.0, -6.0, -6.1, -6.5)),
           "Jamel Green": (word(-0.2, -0.1, -3.2, -7.4, -2.8), word(-4.8, 0.0, -6.1, -5.9, -6.9))}
    assert choose_name("James Green", "jamesgreen", bad, lexicon, **PLAIN,
                       median_floor=-99.0) is not None  # the margin alone would take it
    assert choose_name("James Green", "jamesgreen", bad, lexicon, **PLAIN) is None
