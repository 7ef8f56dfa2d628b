"""Judge a finished call against its script's ``expect`` block, from the calendar's state."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from connectors.base import Booking
from evals.script import CallScript, ExpectedBooking, ExpectedCancellation, KeptBooking


def _norm_name(value: str | None) -> str:
    return re.sub(r"\s+", " ", (value or "").strip().lower())


def phones_match(a: str | None, b: str | None) -> bool:
    """Same number, written with or without country code / trunk prefix: "+1 555 123 4567"
    matches "5551234567", "+44 7700 900123" matches "07700 900123"."""
    da, db = re.sub(r"\D", "", a or ""), re.sub(r"\D", "", b or "")
    if not da or not db:
        return da == db
    short, long_ = sorted((da.lstrip("0"), db.lstrip("0")), key=len)
    return len(short) >= 7 and long_.endswith(short)


@dataclass
class Verdict:
    outcome: str
    outcome_correct: bool
    booking_fields_correct: bool | None
    booking: Booking | None = None
    problems: list[str] = field(default_factory=list)


def booking_matches(b: Booking, exp: ExpectedBooking) -> list[str]:
    """Field-by-field differences between a calendar entry and the expected booking."""
    problems = []
    if b.service != exp.service:
        problems.append(f"service {b.service} != {exp.service}")
    if b.start != exp.start:
        problems.append(f"start {b.start.isoformat()} != {exp.start.isoformat()}")
    if exp.name is not None and _norm_name(b.name) != _norm_name(exp.name):
        problems.append(f"name {b.name!r} != {exp.name!r}")
    if exp.phone is not None and not phones_match(b.phone, exp.phone):
        problems.append(f"phone {b.phone} != {exp.phone}")
    if exp.staff is not None and b.staff != exp.staff:
        problems.append(f"staff {b.staff} != {exp.staff}")
    return problems


def judge(script: CallScript, new_bookings: list[Booking], *, observed_outcome: str) -> Verdict:
    """``new_bookings`` are the active calendar entries that did not exist before the call."""
    exp = script.expect
    verdict = Verdict(outcome=observed_outcome, outcome_correct=False, booking_fields_correct=None)
    if exp.booking is not None:
        best: tuple[int, Booking, list[str]] | None = None
        for b in new_bookings:
            problems = booking_matches(b, exp.booking)
            if best is None or len(problems) < best[0]:
                best = (len(problems), b, problems)
        if best is None:
            verdict.problems.append("no new booking in the calendar")
            verdict.booking_fields_correct = False
        else:
            verdict.booking = best[1]
            verdict.problems.extend(best[2])
            verdict.booking_fields_correct = not best[2]
    others = [b for b in new_bookings if b is not verdict.booking]
    for extra in exp.also_booked:  # further entries that must exist (EVAL_FORMAT)
        found = next((b for b in others if not booking_matches(b, extra)), None)
        if found is None:
            verdict.problems.append(
                f"no {extra.service} at {extra.start.isoformat()} (also_booked)")
            verdict.booking_fields_correct = False
        else:
            others.remove(found)
    if exp.outcome in ("booked", "rescheduled"):
        verdict.outcome_correct = bool(verdict.booking_fields_correct) and (
            observed_outcome == exp.outcome or exp.outcome == "booked"
        )
    else:
        verdict.outcome_correct = observed_outcome == exp.outcome and not new_bookings
        if new_bookings:
            verdict.problems.append(f"{len(new_bookings)} unexpected booking(s)")
    return verdict


def _same_slot(b: Booking, exp: ExpectedCancellation | KeptBooking) -> bool:
    return b.service == exp.service and b.start == exp.start and (
        getattr(exp, "staff", None) is None or b.staff == exp.staff)


def wrong_actions(script: CallScript, before: list[Booking], after: list[Booking]) -> list[str]:
    """Bookings, moves and cancellations the call performed that ``expect`` does not name.

    Worse than no booking: a caller who hangs up with nothing done can call again; one booked
    on the wrong day, under the wrong name, or whose other appointment was cancelled, cannot
    know. Decided from the calendar before and after the call and the script's labels only.
    """
    exp = script.expect
    by_id = {b.id: b for b in after}
    new = [b for b in after if b not in before]  # a moved entry keeps its id but not its start
    gone = [b for b in before if by_id.get(b.id) != b]
    wanted = ([exp.booking] if exp.booking is not None else []) + list(exp.also_booked)
    problems: list[str] = []
    unmatched = list(wanted)
    for b in new:
        match = next((w for w in unmatched if not booking_matches(b, w)), None)
        if match is not None:
            unmatched.remove(match)
            continue
        nearest = min((booking_matches(b, w) for w in wanted), key=len, default=None)
        what = "; ".join(nearest) if nearest else "the script expects no new booking"
        action = "moved" if any(g.id == b.id for g in gone) else "booked"
        problems.append(f"{action} {b.service} at {b.start.isoformat()} ({what})")
    for b in gone:
        if exp.cancelled is not None and _same_slot(b, exp.cancelled):
            continue
        action = "moved" if b.id in by_id else "cancelled"
        problems.append(f"{action} {b.service} at {b.start.isoformat()}, which the script "
                        "does not name")
    for k in exp.kept:
        reported = any(_same_slot(g, k) for g in gone)
        if not reported and not any(_same_slot(b, k) for b in after):
            problems.append(f"the kept {k.service} at {k.start.isoformat()} is gone")
    return problems
