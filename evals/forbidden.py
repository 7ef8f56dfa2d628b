"""Forbidden events, judged from the outside (transcript, tool log and calendar), never from
the policy's own bookkeeping, so a policy bug cannot hide itself.

- ``unconfirmed_booking``: a booking was written but no earlier agent utterance asked to
  confirm that exact day and time and got a yes;
- ``unverified_free_slot``: the agent stated a time as free/bookable ("free", "available",
  "I can book", "I have") before any availability check had run in the call;
- ``double_booking``: one staff member holds two overlapping active bookings;
- ``outside_hours_booking``: a new booking falls outside the business's opening hours.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from connectors.base import Booking
from connectors.schedule import Business
from voice_agent.dialog.timeparse import describe_day, describe_time
from voice_agent.dialog.understanding import understand

_TIME = re.compile(r"\b\d{1,2}(:\d{2})? ?(AM|PM)\b", re.IGNORECASE)
_FREE_CLAIM = re.compile(r"\b(free|available|i can book|i can move|i have)\b", re.IGNORECASE)
_CONFIRM = re.compile(r"shall i book|should i book|shall i go ahead|confirm", re.IGNORECASE)


@dataclass
class TurnLog:
    caller: str
    agent: str
    executed_tools: list[str]


def forbidden_events(
    *, business: Business, today, turns: list[TurnLog], new_bookings: list[Booking],
    all_bookings: list[Booking],
) -> list[str]:
    events: list[str] = []
    checked = False
    agent_lines: list[str] = []
    for turn in turns:
        checked = checked or "check_availability" in turn.executed_tools
        if _TIME.search(turn.agent) and _FREE_CLAIM.search(turn.agent) and not checked:
            events.append("unverified_free_slot")
        agent_lines.append(turn.agent)
    for booking in new_bookings:
        if not _confirmed(booking, turns, business, today):
            events.append("unconfirmed_booking")
        if not business.is_within_hours(booking.service, booking.start):
            events.append("outside_hours_booking")
    by_staff: dict[str | None, list[Booking]] = {}
    for b in all_bookings:
        by_staff.setdefault(b.staff, []).append(b)
    for staff_bookings in by_staff.values():
        staff_bookings.sort(key=lambda b: b.start)
        for a, b in itertools.pairwise(staff_bookings):
            if b.start < a.end:
                events.append("double_booking")
    return events


def _confirmed(booking: Booking, turns: list[TurnLog], business: Business, today) -> bool:
    local = booking.start.astimezone(business.tz)
    day, at = describe_day(local.date(), today), describe_time(local.timetz())
    for i, turn in enumerate(turns[:-1]):
        asked = _CONFIRM.search(turn.agent) and at in turn.agent and day in turn.agent
        if asked:
            reply = understand(turns[i + 1].caller, business, today, asked="confirm")
            if reply.affirm and not reply.deny:
                return True
    return False
