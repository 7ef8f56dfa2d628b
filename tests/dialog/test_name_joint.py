"""Weighing both hearings of a caller's name: the name said and the name spelled
(``name_choice.choose_joint``, ``settle_name_choice``): what is taken and what is refused."""

from __future__ import annotations

import asyncio

from voice_agent.dialog.name_choice import (
    JOINT_KEY,
    choose_joint,
    dropped_letter_alikes,
    joint_candidates,
    rivals_of_pick,
    settle_if_scored,
    settle_name_choice,
    sound_alikes,
    take_spelling,
)
from voice_agent.dialog.name_lexicon import name_lexicon
from voice_agent.dialog.spelling import LetterScores
from voice_agent.dialog.state import DialogState


def _letters(name: str, fit: float, end: float = -0.1) -> list[list[float]]:
    """A spelling's scores for ``name``: every letter ``fit``, each word's end ``end``."""
    return [[fit] * len(word) + [end] for word in name.split()]


# "Then Carter." heard, "B, B, N, then C, A, R, T, E, R" spelled: the caller is Ben Carter.
SPELLED = {"Then Carter": _letters("Then Carter", -2.5), "Ben Carter": _letters("Ben Carter", -0.3),
           "Ken Carter": _letters("Ken Carter", -1.2), "Jen Carter": _letters("Jen Carter", -1.4)}
SAID = {"Then Carter": -3.0, "Ben Carter": -4.0, "Ken Carter": -9.0, "Jen Carter": -8.0}
FREE = -3.0  # whisper's own transcript of the name clip


def test_the_census_name_both_hearings_point_to_is_chosen() -> None:
    chosen = choose_joint("bbncarter", SPELLED, SAID, FREE, name_lexicon())
    assert chosen is not None and chosen.name == "Ben Carter"
    assert chosen.margin >= 4 and chosen.rival in SAID


def test_a_name_the_census_lacks_that_fits_best_is_not_replaced() -> None:
    """Łukasz Wójcik, heard and spelled right, fits both clips best: no census name is
    written in his place."""
    spelled = {"Lukasz Wojcik": _letters("Lukasz Wojcik", -0.2),
               "Lucas Wojcik": _letters("Lucas Wojcik", -1.5),
               "Lukas Wojcik": _letters("Lukas Wojcik", -1.0)}
    said = {"Lukasz Wojcik": -2.0, "Lucas Wojcik": -6.0, "Lukas Wojcik": -5.0}
    assert choose_joint("lukaszwojcik", spelled, said, -2.0, name_lexicon()) is None


def test_a_sound_alike_that_fits_the_audio_as_well_is_a_reason_to_refuse() -> None:
    """Bobby Land leads every census name, but Poppy Land (no census name) fits the two
    clips about as well: B or P cannot be told, so the name is not written."""
    spelled = {"Bobby Land": _letters("Bobby Land", -0.3),
               "Bobby Lane": _letters("Bobby Lane", -1.5)}
    said = {"Bobby Land": -5.0, "Bobby Lane": -12.0}
    lexicon = name_lexicon()
    assert choose_joint("bobbytland", spelled, said, -3.0, lexicon) is not None
    alike = {"Poppy Land": (_letters("Poppy Land", -0.5), -4.5)}
    assert choose_joint("bobbytland", spelled, said, -3.0, lexicon, alikes=alike) is None
    far = {"Poppy Land": (_letters("Poppy Land", -3.0), -20.0)}
    assert choose_joint("bobbytland", spelled, said, -3.0, lexicon, alikes=far) is not None


def test_a_name_whose_words_do_not_fit_the_name_said_is_refused() -> None:
    """The letters point to Ben Carter, but the name clip fits what whisper wrote ("Then
    Carter.") far better than "Ben Carter.": the two hearings do not agree."""
    said = {**SAID, "Ben Carter": -12.0, "Then Carter": -20.0}
    assert choose_joint("bbncarter", SPELLED, said, -3.0, name_lexicon()) is None


def test_letters_far_from_the_transcript_are_refused() -> None:
    assert choose_joint("xqzwv", SPELLED, SAID, FREE, name_lexicon()) is None


def test_sound_alikes_swap_one_letter_throughout_a_word_in_either_word() -> None:
    alikes = sound_alikes("Bobby Land")
    assert "Poppy Land" in alikes and "Bobby Lamd" in alikes
    assert all(len(n.split()) == 2 for n in alikes) and "Bobby Land" not in alikes
    assert len(sound_alikes("Derek Shaw", limit=3)) == 3


def test_the_candidates_are_census_names_near_either_hearing() -> None:
    names = joint_candidates("Then Carter", "Then Carter.", "bbncarter", name_lexicon())
    assert names[0] == "Then Carter" and "Ben Carter" in names
    assert len(names) <= 16 and all(len(n.split()) == 2 for n in names)


def test_the_spelling_read_as_letters_only_adds_its_own_nearest_names() -> None:
    """The transcript's letters ("And I, N, A, T, T, L." for Nina Patel, Piper over a clean
    line) miss the caller's name; the letters-only reading of the same audio ("N, I, N, A,
    then T, A, T, E, L.") finds it, and the pick may be near either reading."""
    lexicon = name_lexicon()
    free, also = "inattl", "ninatatel"
    assert "Nina Patel" not in joint_candidates(None, "", free, lexicon)
    names = joint_candidates(None, "", free, lexicon, also)
    assert "Nina Patel" in names and len(names) <= 16
    assert joint_candidates(None, "", free, lexicon, free) == joint_candidates(
        None, "", free, lexicon)
    spelled = {"Ben Carter": SPELLED["Ben Carter"], "Ken Carter": SPELLED["Ken Carter"]}
    said = {"Ben Carter": -4.0, "Ken Carter": -9.0}
    assert choose_joint("xqzwv", spelled, said, FREE, lexicon) is None
    chosen = choose_joint("xqzwv", spelled, said, FREE, lexicon, also="bbncarter")
    assert chosen is not None and chosen.name == "Ben Carter"


def _later(state: DialogState, result: dict, job: int = 3) -> asyncio.Future:
    future: asyncio.Future = asyncio.get_running_loop().create_future()
    future.set_result(result)
    state.name_rivals = (job, future)
    return future


def _joint_result() -> dict:
    rivals = {n: w for n, w in SPELLED.items() if n != "Then Carter"}
    return {**rivals, JOINT_KEY: {"said": SAID, "said_free": FREE, "alikes": {}}}


async def test_before_the_read_back_the_chosen_name_replaces_the_heard_one() -> None:
    state = DialogState(None, name="Then Carter", asked="phone")
    state.letter_scores = LetterScores("Then Carter", tuple(map(tuple, SPELLED["Then Carter"])),
                                       {"Then Carter": tuple(map(tuple, SPELLED["Then Carter"]))},
                                       later=3)
    _later(state, _joint_result())
    assert take_spelling(state, "Bbn Carter", "bbncarter") is False
    assert state.later_choice is not None
    event = await settle_if_scored(state)
    assert event is not None and event["rule"] == "joint"
    assert event["chosen"]["name"] == "Ben Carter"
    assert state.name == "Ben Carter" and state.name_spelled is True


async def test_after_the_read_back_a_different_name_is_only_noted() -> None:
    """The caller confirmed the booking under the name read back: a name chosen later is
    not swapped in behind their back; the booking stays unverified (review)."""
    state = DialogState(None, name="Then Carter", asked="confirm")
    state.letter_scores = LetterScores("Then Carter", tuple(map(tuple, SPELLED["Then Carter"])),
                                       later=3)
    _later(state, _joint_result())
    take_spelling(state, None, "bbncarter")
    event = await settle_if_scored(state)
    assert event is not None and event["chosen"] is None
    assert event["not_read_back"]["name"] == "Ben Carter"
    assert state.name == "Then Carter" and state.name_spelled is False


async def test_with_no_name_heard_the_spelling_waits_for_both_hearings() -> None:
    """Nothing was made a name of the answer to "your name?" ("Image in void."): the
    spelling's letters are taken, unverified, while the two clips are scored."""
    state = DialogState(None, asked="phone")
    state.letter_scores = LetterScores("", (), {}, later=5)
    pending: asyncio.Future = asyncio.get_running_loop().create_future()
    state.name_rivals = (5, pending)
    assert take_spelling(state, "Bbn Carter", "bbncarter") is False
    assert state.name == "Bbn Carter" and state.later_choice is not None
    assert await settle_if_scored(state) is None  # not scored yet: left for later
    pending.set_result(_joint_result())
    event = await settle_name_choice(state, rename=True)
    assert event is not None and event["chosen"]["name"] == "Ben Carter"
    assert state.name == "Ben Carter"


def test_a_letter_heard_inside_a_word_that_the_pick_lacks_makes_rivals_with_it() -> None:
    """Isla Morgan spelled "I, F, L, A, then M, O, R, ..." was written as the census name Ila
    Morgan (2026-12-04 audio run): the F is a letter the pick lacks, heard as F or a letter that
    sounds like it (S, V), so Isla Morgan is a rival the pick must beat."""
    grown = dropped_letter_alikes("Ila Morgan", "iflanmoream")
    assert "Isla Morgan" in grown and "Ifla Morgan" in grown
    assert "Isla Morgan" in rivals_of_pick("Ila Morgan", "iflanmoream")
    # a "then" between the words, or the word's own letters, make none
    assert dropped_letter_alikes("Dana Smith", "danathensmith") == []
    assert dropped_letter_alikes("Ben Carter", "bencarter") == []


def test_a_pick_that_a_grown_rival_fits_as_well_is_refused() -> None:
    spelled = {"Ila Morgan": _letters("Ila Morgan", -0.4),
               "Ile Morgan": _letters("Ile Morgan", -2.5)}
    said = {"Ila Morgan": -5.0, "Ile Morgan": -4.0}
    lexicon = name_lexicon()
    chosen = choose_joint("iflamorgan", spelled, said, -4.0, lexicon)
    assert chosen is not None and chosen.name == "Ila Morgan"
    isla = {"Isla Morgan": (_letters("Isla Morgan", -0.3), -4.5)}
    assert choose_joint("iflamorgan", spelled, said, -4.0, lexicon, alikes=isla) is None
