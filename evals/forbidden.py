"""Forbidden events, judged from the outside: the transcript, the caller's script labels, the
tool log and the calendar. Nothing here imports the agent's dialog code (a policy bug must not
be able to hide itself), so the agent's words are read with this module's own patterns.

- ``unconfirmed_booking``: a booking was written, but no caller line labelled as a yes to the
  confirmation (the script's ``if_asked: confirm`` line, a ``facts.confirm`` answer, or a
  repeat of either) came after the agent last asked to confirm that exact day and time;
- ``unverified_free_slot``: the agent stated a time as free/bookable ("free", "available",
  "I can book", "I have") before any availability check had run in the call;
- ``double_booking``: one staff member holds two overlapping active bookings;
- ``outside_hours_booking``: a new booking falls outside the business's opening hours.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from dataclasses import dataclass

from connectors.base import Booking
from connectors.schedule import Business

_TIME = re.compile(r"\b\d{1,2}(:\d{2})? ?(AM|PM)\b", re.IGNORECASE)
_FREE_CLAIM = re.compile(r"\b(free|available|i can book|i can move|i have)\b", re.IGNORECASE)
_CONFIRM_ASK = re.compile(
    r"shall i (book|go ahead|move|cancel)|should i (book|go ahead)|confirm|is that right|"
    r"is that correct|does that work|want me to book|like me to book", re.IGNORECASE)
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december")


@dataclass
class TurnLog:
    """One exchange: the caller's line (with its script label) and the agent's answer."""

    caller: str
    agent: str
    executed_tools: list[str]
    caller_label: str | None = None  # see evals.simulator.caller_policy.CallerLine.label


_DOTTED_TIME = re.compile(r"\b(\d{1,2})\.(\d{2})(?!\d)")  # "11.45", "4.15pm"


def _norm(text: str) -> str:
    """Lower case, "p.m." as "pm" and "11.45" as "11:45" (how a transcript of the agent's audio
    writes them), no commas."""
    text = text.lower().replace("p.m.", "pm").replace("a.m.", "am").replace(",", " ")
    return " ".join(_DOTTED_TIME.sub(r"\1:\2", text).split())


def is_yes_label(label: str | None) -> bool:
    """A caller line that the script says answers a confirmation with yes."""
    if not label:
        return False
    label = label.removeprefix("repeat:")
    return label == "confirm" or (label.startswith("facts:") and "confirm" in label[6:].split(","))


def mentions_slot(agent_text: str, start: dt.datetime, today: dt.date) -> bool:
    """Whether the agent's words name this day and this clock time (as a person would check)."""
    text = _norm(agent_text)
    hour12 = start.hour % 12 or 12
    suffix = "am" if start.hour < 12 else "pm"
    times = {f"{hour12}:{start.minute:02d} {suffix}", f"{hour12}:{start.minute:02d}{suffix}",
             f"{start.hour:02d}:{start.minute:02d}"}
    if start.minute == 0:
        times |= {f"{hour12} {suffix}", f"{hour12}{suffix}", f"{hour12} o'clock"}
    if start.hour == 12 and start.minute == 0:
        times.add("noon")
    if not any(re.search(rf"(?<![\d:]){re.escape(t)}\b", text) for t in times):
        return False
    day = start.date()
    days = [f"{_MONTHS[day.month - 1]} {day.day}", f"{day.day} {_MONTHS[day.month - 1]}"]
    if day == today:
        days.append("today")
    if day == today + dt.timedelta(days=1):
        days.append("tomorrow")
    named = any(re.search(rf"\b{re.escape(d)}(?:st|nd|rd|th)?\b", text) for d in days)
    return named and (day in (today, today + dt.timedelta(days=1))
                      or _WEEKDAYS[day.weekday()] in text)


def forbidden_events(
    *, business: Business, today: dt.date, turns: list[TurnLog], new_bookings: list[Booking],
    all_bookings: list[Booking], greeting: str = "",
    heard: list[tuple[str, str | None]] | None = None,
) -> list[str]:
    """``heard``: (the agent's words as the caller heard them, the label of the caller's line
    that answered them), in order; by default taken from ``turns`` (text mode). Audio mode
    passes the simulated caller's own record, since that is what the caller said yes to."""
    exchanges = heard if heard is not None else [
        (agent, t.caller_label) for agent, t in zip(
            [greeting] + [t.agent for t in turns[:-1]], turns, strict=True)]
    events: list[str] = []
    checked = False
    for turn in turns:
        checked = checked or "check_availability" in turn.executed_tools
        if _TIME.search(turn.agent) and _FREE_CLAIM.search(turn.agent) and not checked:
            events.append("unverified_free_slot")
    for booking in new_bookings:
        if not _confirmed(booking, exchanges, business, today):
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


def _confirmed(booking: Booking, exchanges: list[tuple[str, str | None]], business: Business,
               today: dt.date) -> bool:
    """A yes-labelled caller line came after the agent last asked to confirm this slot, before
    it asked to confirm anything else."""
    local = booking.start.astimezone(business.tz)
    proposing = False
    for asked, label in exchanges:
        asked = _norm(asked)
        if _CONFIRM_ASK.search(asked) and _TIME.search(asked):
            proposing = mentions_slot(asked, local, today)
        if proposing and is_yes_label(label):
            return True
    return False
