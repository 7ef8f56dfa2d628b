"""Admission: places are reserved at the webhook, taken up by the stream, and lapse."""

from __future__ import annotations

import pytest

from voice_agent.telephony.admission import CALLS_REFUSED, Admission, AdmissionFull


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_a_reservation_is_taken_up_by_its_stream_and_freed_at_hang_up() -> None:
    gate = Admission(2, clock=Clock())
    assert gate.admit("CA1") and gate.admit("CA2")
    assert gate.full and not gate.admit("CA3")
    with gate.call("CA1"):
        assert gate.active == 1 and gate.in_use == 2
    assert gate.in_use == 1 and gate.admit("CA3")


def test_a_reservation_never_taken_up_lapses() -> None:
    clock = Clock()
    gate = Admission(1, reservation_ttl_s=20, clock=clock)
    assert gate.admit("CA1") and not gate.admit("CA2")
    clock.t = 21
    assert gate.admit("CA2")


def test_a_stream_without_a_place_is_refused_but_a_lapsed_one_runs_if_there_is_room() -> None:
    clock = Clock()
    gate = Admission(1, reservation_ttl_s=5, clock=clock)
    assert gate.admit("CA1")
    refused = CALLS_REFUSED._value.get()
    with pytest.raises(AdmissionFull), gate.call("CA2"):
        pass
    assert CALLS_REFUSED._value.get() == refused + 1
    clock.t = 6  # CA1's reservation lapsed; its stream still opens: there is room
    with gate.call("CA1"):
        assert gate.full


def test_the_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Admission(0)
