"""A spelling over a phone line is evidence for or against the name heard, never the name."""

from __future__ import annotations

import pytest

from voice_agent.dialog.spelling import CORROBORATES, letter_distance, spelled_letters


@pytest.mark.parametrize(("text", "letters"), [
    ("D, A, N, A, then S, M, I, T, H.", "danasmith"),
    ("D-A-N-A, then S-M-I-T-H", "danasmith"),
    ("Okay, so F, I, then M, T, M, S, A, H.", "fimtmsah"),
    ("Delta, alpha, November, alpha", "dana"),
    ("Zoë", ""),  # a word, not a spelling
    # A letter whisper wrote as its name's word, among letters (audio evals, 2026-12-04):
    ("L, the double V, I, S, then J, the M, K, I, N, S.", "ldwisjdmkins"),  # Lewis Jenkins
    ("Okay, A, Y, L, A, D, R, L, K, S.", "kayladrlks"),  # Kayla Brooks
    ("N, A, T, I, A, then the R, E, N, N, A, N.", "natiadrennan"),  # Nadia Brennan
    ("C, see, O, T, T", "ccott"),
    ("T, H, O, M, A, S, Denner, E, E, D.", "thomasreed"),  # "then R" heard as one word
    ("A, M, Y, den, C, O, L, E", "amycole"),
    ("Dennis, D, E, N, N, I, S", "dennis"),  # the name said before its letters
    ("Okay, so D, A, N, A.", "dana"),  # a filler before the letters stays a filler
    ("Are you free at ten, or see you Monday?", ""),  # not a spelling: words stay words
])
def test_spelled_letters(text: str, letters: str) -> None:
    assert spelled_letters(text) == letters


@pytest.mark.parametrize(("heard", "letters"), [
    ("Dana Smith", "danasmith"),
    ("Dana Smith", "tamadfmith"),  # rhymes confused, a stray letter where "then" was
    ("Adam Fisher", "adamzfishdr"),
    ("Brianna Scott", "briannamscott"),
])
def test_a_spelling_with_rhyming_confusions_bears_the_name_out(heard: str, letters: str) -> None:
    assert letter_distance(heard, letters) <= CORROBORATES


@pytest.mark.parametrize(("heard", "letters"), [
    ("Tina Smith", "danasmith"),  # I is no rhyme of A
    ("Bella Hartford", "tellaarter"),  # measured: "Bella Harper" spelled, heard otherwise
    ("Brian Taylor", "dryankdlldr"),  # measured: "Bryan Keller"
    ("Carl Benson", "tarlamdensln"),  # measured: "Carla Benson"
    ("Dana Smith", ""),
])
def test_a_spelling_that_differs_contradicts_the_name(heard: str, letters: str) -> None:
    assert letter_distance(heard, letters) > CORROBORATES


def test_a_weakly_heard_name_needs_a_near_perfect_spelling() -> None:
    """Measured on a held-out voice: "Alicia Domen" (for Gomez) heard at log-prob -0.66 was
    borne out at 0.1 by two rhyming letters; a weak hearing needs more than that."""
    from voice_agent.dialog.spelling import bears_out

    assert bears_out(0.1, -0.2) and not bears_out(0.1, -0.66)
    assert bears_out(0.02, -0.79) and bears_out(0.1, None)


# -- the spelling's audio read as the heard name's letters (``spelling_verifies``) ---------
# Each word: its letters' log-probabilities, then its end ("then" / the final period).
# Measured (benchmarks/name_capture.py): "Dana Smith" spelled by the Piper voice on a clean
# line, "D, A, N, A, then S, M, I, T, H" transcribed as "D, A, M, A, D, F, M, I, T, H."
DANA = ((-0.54, -0.03, -1.34, -0.02, -3.96), (-0.36, -0.03, -0.06, -0.0, -0.01, -0.06))
# By the higher Piper voice (clean): "D, A, N, A, S, N, I, T, H." (the M at -3.04).
DANA_HIGH = ((-0.62, -0.03, -0.03, -0.02, -1.26), (-0.43, -3.04, -0.02, -0.0, -0.16, -0.05))
# ... and "Hildebrand" (Piper, clean), scored as itself and as "Hoverbrand".
HILDEBRAND = (-0.6, -0.3, -0.0, -0.6, -4.1, -0.2, -0.0, -0.1, -1.8, -0.0, -0.1)
HOVERBRAND = (-0.6, -7.4, -9.1, -5.4, -2.1, -3.4, -3.3, -0.1, -1.8, -0.2, -0.1)
MARSHALL = (-0.2, -1.7, -0.0, -0.8, -0.8, -0.0, -0.0, -0.0, -3.0)


def _verifies(name: str, words: tuple[tuple[float, ...], ...], letters: str = "",
              logprob: float | None = -0.2) -> bool:
    from voice_agent.dialog.spelling import LetterScores, spelling_verifies

    return spelling_verifies(name, letters, LetterScores(name, words), logprob)


def test_a_name_whose_every_letter_the_audio_bears_out_is_verified() -> None:
    """Whatever the transcript (here the audio eval's "D, A, N, A, Z, F, N, S, T, H", 0.3
    from the name), the audio read as D-A-N-A-S-M-I-T-H bears Dana Smith out letter by
    letter."""
    assert letter_distance("Dana Smith", "danazfnsth") > CORROBORATES
    assert _verifies("Dana Smith", DANA, "danazfnsth")


def test_a_rhyme_of_the_name_is_not_verified_by_the_same_audio() -> None:
    """"Tana Smith" forced on the audio of D, A, N, A: the T is far less likely than the D
    (and the transcript's letters would have borne it out: a rhyme costs little)."""
    tana = ((-3.8, -0.05, -1.3, -0.03, -3.9), DANA[1])
    assert letter_distance("Tana Smith", "danasmith") <= CORROBORATES
    assert not _verifies("Tana Smith", tana, "danasmith")


def test_one_letter_the_audio_contradicts_vetoes_the_transcript() -> None:
    """The transcript bears the name out, but the audio puts one of its letters below the
    veto floor: not verified (a right name too: "Hildebrand" with its E at -4.1, the price
    of refusing one-letter-apart names). Above the veto, the transcript's letters decide."""
    assert not _verifies("Marshall Hoverbrand", (MARSHALL, HOVERBRAND), "marshallhoverbrand")
    assert not _verifies("Marshall Hildebrand", (MARSHALL, HILDEBRAND), "marshallhildebrand")
    # A letter only doubtful (the M at -3.04): the transcript's letters decide.
    assert _verifies("Dana Smith", DANA_HIGH, "danasnith")
    assert not _verifies("Dana Smith", DANA_HIGH, "danazfnsth")


def test_a_name_a_letter_short_is_refused_at_its_end() -> None:
    """"Dana Smit": every letter fits, but the audio goes on ("H") where the period is
    forced."""
    smit = ((-0.54, -0.03, -1.34, -0.02, -3.96), (-0.36, -0.03, -0.06, -0.0, -6.2))
    assert not _verifies("Dana Smit", smit, "danasmith")


def test_the_then_between_words_is_not_judged() -> None:
    """Whisper rarely writes the "then" a caller says between two words (it writes a letter
    for it), so its low probability is no evidence against the name."""
    assert _verifies("Al Fox", ((-0.1, -0.2, -9.0), (-0.1, -0.3, -0.2)))


def test_without_the_audio_scores_of_this_very_name_nothing_is_verified() -> None:
    """Text (or a spelling heard in two pieces) carries no scores; scores of another name
    (the name changed since) prove nothing about this one."""
    from voice_agent.dialog.spelling import LetterScores, spelling_verifies

    assert not spelling_verifies("Dana Smith", "danasmith", None, -0.1)
    assert not spelling_verifies("Tina Smith", "danasmith", LetterScores("Dana Smith", DANA),
                                 -0.1)
    assert not spelling_verifies("Al", "al", LetterScores("Al", ()), -0.1)


def test_letter_scores_are_read_from_the_recogniser_statistics() -> None:
    from voice_agent.dialog.spelling import LetterScores

    stats = {"avg_logprob": -0.3, "letter_scores": {"name": "Al Fox",
                                                     "letters": [[-0.1, -2.0], [-0.2, -0.1]]}}
    assert LetterScores.from_stats(stats) == LetterScores("Al Fox", ((-0.1, -2.0), (-0.2, -0.1)))
    assert LetterScores.from_stats({"avg_logprob": -0.3}) is None
    assert LetterScores.from_stats({"letter_scores": {"name": "", "letters": []}}) is None


def test_an_initial_heard_for_a_name_is_never_verified() -> None:
    """Eve Shaw came through as "E-Shaw" and its spelling as "E, D, E, then S, H, A, W"
    (benchmarks/name_choice.py, the scripts' names): an initial is no first name, however
    well the audio fits its letters."""
    perfect = ((-0.1, -0.1), (-0.1, -0.1, -0.1, -0.1, -0.1))
    assert not _verifies("E-Shaw", perfect, "edeshaw")
    assert not _verifies("E Shaw", perfect, "eshaw")
    assert _verifies("Ed Shaw", ((-0.1, -0.1, -0.1), perfect[1]), "edshaw")
