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
