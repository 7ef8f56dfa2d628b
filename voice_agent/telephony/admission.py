"""Admission: how many calls this worker takes at once.

A call is pinned to one worker for its whole life (its pipeline, models and turn state live
here), so a busy deployment scales by refusing new calls at the door, not by moving calls.
A call is admitted when its webhook is answered, not when its media stream opens a moment
later: otherwise a burst of webhooks would all be told yes before any stream had started.
So an admission is a reservation that the stream then takes up; one never taken up (the
caller hung up while the TwiML was on its way) lapses after ``reservation_ttl_s``.

Above the limit the Twilio webhook answers with a short spoken message and a hang-up, and
``/readyz`` reports not-ready so that a load balancer sends new calls to another worker,
while the calls already admitted keep their worker (and their latency) to themselves.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from voice_agent.metrics import CALLS_REFUSED

__all__ = ["CALLS_REFUSED", "Admission", "AdmissionFull"]


class Admission:
    def __init__(self, limit: int, *, reservation_ttl_s: float = 20.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1:
            raise ValueError("the admission limit must be at least 1")
        self.limit = limit
        self.reservation_ttl_s = reservation_ttl_s
        self._clock = clock
        self._reserved: dict[str, float] = {}  # call SID -> when its webhook was answered
        self._active: set[str] = set()

    def _lapse(self) -> None:
        cutoff = self._clock() - self.reservation_ttl_s
        for sid in [sid for sid, at in self._reserved.items() if at < cutoff]:
            del self._reserved[sid]

    @property
    def in_use(self) -> int:
        """Calls in progress plus calls admitted whose stream has not opened yet."""
        self._lapse()
        return len(self._active) + len(self._reserved)

    @property
    def active(self) -> int:
        return len(self._active)

    @property
    def full(self) -> bool:
        return self.in_use >= self.limit

    def admit(self, call_sid: str) -> bool:
        """Reserve a place for a call whose webhook is being answered; False when full. A
        webhook Twilio retries for the same call gets the place it already has."""
        self._lapse()
        if call_sid in self._reserved or call_sid in self._active:
            return True
        if self.in_use >= self.limit:
            CALLS_REFUSED.inc()
            return False
        self._reserved[call_sid] = self._clock()
        return True

    def take(self, call_sid: str) -> None:
        """The call's media stream opened: it holds its place until ``release``. A stream
        whose reservation lapsed still runs if there is room (the caller is on the line); a
        stream with neither a reservation nor room is refused (``AdmissionFull``)."""
        self._lapse()
        if self._reserved.pop(call_sid, None) is None and call_sid not in self._active and (
                self.in_use >= self.limit):
            CALLS_REFUSED.inc()
            raise AdmissionFull(call_sid)
        self._active.add(call_sid)

    def release(self, call_sid: str) -> None:
        self._active.discard(call_sid)

    @contextmanager
    def call(self, call_sid: str) -> Iterator[None]:
        """``take`` and ``release`` around a block."""
        self.take(call_sid)
        try:
            yield
        finally:
            self.release(call_sid)


class AdmissionFull(RuntimeError):
    """A media stream arrived for a call that was never admitted, and the worker is full."""
