"""Which free slots to name: the nearest to a time asked for, a spread over a day, the other
half of the clock, and how a constraint's bound is said."""

from __future__ import annotations

from datetime import datetime, timedelta

from connectors.base import Slot
from voice_agent.dialog.timeparse import describe_time
from voice_agent.dialog.understanding import Constraint

__all__ = ["MAX_OFFERED_TIMES", "bound_words", "nearest", "spread", "twin_free"]

MAX_OFFERED_TIMES = 3


def nearest(free: list[Slot], start: datetime, n: int = 2) -> list[Slot]:
    """The ``n`` free slots closest to ``start``, in the order of the day."""
    ranked = sorted(free, key=lambda s: (abs((s.start - start).total_seconds()), s.start))
    return sorted(ranked[:n], key=lambda s: s.start)


def spread(free: list[Slot], n: int = MAX_OFFERED_TIMES) -> list[Slot]:
    """``n`` slots spread over the day (the first, the last, evenly between)."""
    if len(free) <= n:
        return list(free)
    step = (len(free) - 1) / (n - 1)
    return [free[round(i * step)] for i in range(n)]


def twin_free(free: list[Slot], start: datetime) -> Slot | None:
    """The free slot twelve hours from ``start`` on the same day, if any. Asked for a time
    outside opening hours whose other half of the clock is open ("11 PM" at a dentist), a
    receptionist offers that first: callers slip, and over the phone whisper confuses AM and
    PM. It is offered, never held: the caller still picks it."""
    twin = start + timedelta(hours=-12 if start.hour >= 12 else 12)  # the same day
    return next((s for s in free if s.start == twin), None)


def bound_words(c: Constraint) -> str:
    """A constraint's bound as said: "after 3 PM", "between 10 AM and 2 PM"."""
    if c.kind == "between" and c.after and c.before:
        return f"between {describe_time(c.after)} and {describe_time(c.before)}"
    if c.after:
        return f"after {describe_time(c.after)}"
    return f"before {describe_time(c.before)}"
