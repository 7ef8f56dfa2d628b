"""``voice-agent eval export CALL_ID``: turn a stored call into a call script.

The script pins ``now`` to the call's clock (``clock_now``, else ``started_at``) in the business
timezone, replays the caller's transcribed lines, and expects what the call produced: the
completed booking intent (book / reschedule) and the call's recorded outcome. A line answering a
name, phone or confirmation question is held (``if_asked``) until the agent asks it again.
``redact`` replaces the caller's name and phone numbers everywhere, transcript included.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, get_args

import yaml
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from connectors.schedule import Business
from evals.script import Outcome
from evals.simulator.caller_policy import classify_question
from voice_agent.store.models import BookingIntent, Call, Turn

__all__ = ["REDACTED_NAME", "REDACTED_PHONE", "ExportError", "dump_script", "export_call"]

REDACTED_NAME = "Caller Name"
REDACTED_PHONE = "+15550100000"
REDACTED_OTHER_PHONE = "+15550100001"  # a second, different number (e.g. a callback number)
_PHONE_RUN = re.compile(r"\+?\d[\d\s().-]{5,}\d")


class ExportError(ValueError):
    """The call cannot be exported as a script; the message says why."""


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _load(engine: Engine, call_id: str) -> tuple[Call, list[Turn], list[BookingIntent]]:
    with Session(engine, expire_on_commit=False) as s:
        call = s.get(Call, call_id)
        if call is None:
            matches = s.exec(select(Call).where(col(Call.id).startswith(call_id))).all()
            if len(matches) != 1:
                raise ExportError(f"no call {call_id!r}" if not matches else
                                  f"call id prefix {call_id!r} is ambiguous")
            call = matches[0]
        turns = s.exec(select(Turn).where(Turn.call_id == call.id).order_by(Turn.index)).all()
        intents = s.exec(select(BookingIntent).where(
            BookingIntent.call_id == call.id, BookingIntent.status == "done",
        ).order_by(BookingIntent.created_at)).all()
        return call, list(turns), list(intents)


def _known_bookings(turns: list[Turn]) -> dict[str, dict[str, Any]]:
    """Bookings the agent looked up during the call (find_my_appointments results), by id."""
    found: dict[str, dict[str, Any]] = {}
    for turn in turns:
        for tc in turn.tool_calls or []:
            if tc.get("name") == "find_my_appointments" and isinstance(tc.get("result"), list):
                found.update({str(b["id"]): b for b in tc["result"]
                              if isinstance(b, dict) and "id" in b})
    return found


def _calendar_row(engine: Engine, booking_id: str) -> dict[str, Any]:
    """The embedded calendar's row for a booking, when the call's database holds it."""
    from connectors.builtin import CalAppointment

    try:
        with Session(engine) as s:
            row = s.get(CalAppointment, booking_id)
            return {} if row is None else {"service": row.service, "name": row.name,
                                           "phone": row.phone}
    except SQLAlchemyError:
        return {}


def _lines(turns: list[Turn]) -> list[dict[str, str]]:
    lines: list[dict[str, str]] = []
    previous_agent: str | None = None
    for turn in turns:
        text = " ".join((turn.caller_text or "").split())
        if text:
            line = {"say": text}
            asked = classify_question(previous_agent) & {"name", "phone", "confirm"} if (
                previous_agent) else set()
            if len(asked) == 1:
                line["if_asked"] = asked.pop()
            lines.append(line)
        previous_agent = turn.agent_text or previous_agent
    return lines


def export_call(
    engine: Engine, call_id: str, *, businesses: dict[str, Business] | None = None,
    redact: bool = False,
) -> dict[str, Any]:
    """The call as a call-script mapping (dump it with :func:`dump_script`)."""
    call, turns, intents = _load(engine, call_id)
    business = (businesses or {}).get(call.business)
    tz = business.tz if business is not None else dt.UTC
    now = _aware(call.clock_now or call.started_at).astimezone(tz).replace(microsecond=0)
    lines = _lines(turns)
    if not lines:
        raise ExportError(f"call {call.id} has no caller lines to replay")
    known = _known_bookings(turns)
    done = [i for i in intents if i.action in ("book", "reschedule")]
    booking: dict[str, Any] | None = None
    old: dict[str, Any] | None = None
    if done:
        intent = done[-1]
        p = dict(intent.payload or {})
        if intent.action == "reschedule":
            old = known.get(str(p.get("booking_id")))
            p = {**(old or {}), **_calendar_row(engine, str(p.get("booking_id"))), **p,
                 "start": p.get("new_start")}
        if not p.get("service") or not p.get("start"):
            raise ExportError(f"booking intent {intent.id} lacks a service or start: {p}")
        start = _aware(dt.datetime.fromisoformat(str(p["start"]))).astimezone(tz)
        booking = {"service": p["service"], "start": start.isoformat()}
        booking.update({k: str(p[k]) for k in ("name", "phone") if p.get(k)})
    cancels = [i for i in intents if i.action == "cancel"]
    if cancels and old is None:
        old = known.get(str((cancels[-1].payload or {}).get("booking_id")))
    valid = get_args(Outcome)
    outcome = call.outcome if call.outcome in valid else ("booked" if booking else "no_booking")
    if outcome in ("booked", "rescheduled") and booking is None:
        raise ExportError(f"call {call.id} ended {outcome!r} but has no completed booking intent")
    if outcome in ("rescheduled", "cancelled") and old is None:
        raise ExportError(f"call {call.id} ended {outcome!r} but the original booking is unknown")
    caller_phone = call.caller_phone or (booking or {}).get("phone") or REDACTED_PHONE
    name = (booking or {}).get("name") or (old or {}).get("name")
    script: dict[str, Any] = {
        "id": f"call-{call.id[:12]}",
        "description": f"Exported from call {call.id} to {call.business} on "
                       f"{now:%Y-%m-%d %H:%M %Z}" + (" (redacted)." if redact else "."),
        "business": call.business,
        "now": now.isoformat(),
    }
    facts = {"name": name} if name else {}
    if booking and booking.get("phone") and booking["phone"] != caller_phone:
        facts["phone"] = booking["phone"]
    if outcome in ("rescheduled", "cancelled") and old is not None:
        old_start = _aware(dt.datetime.fromisoformat(str(old["start"]))).astimezone(tz)
        entry = {"service": old["service"], "start": old_start.isoformat(),
                 "name": name or "Existing Client", "phone": caller_phone}
        script["calendar"] = [entry]
    script["caller"] = {"phone": caller_phone, "facts": facts, "turns": lines}
    expect: dict[str, Any] = {"outcome": outcome}
    if booking and outcome in ("booked", "rescheduled"):
        expect["booking"] = booking
    if "calendar" in script:
        expect["cancelled"] = {k: script["calendar"][0][k] for k in ("service", "start")}
    script["expect"] = expect
    if redact:
        phones = [p for p in dict.fromkeys([caller_phone, (booking or {}).get("phone")]) if p]
        script = _redact(script, name, phones)
    return script


_NOT_PERSONAL = frozenset({"id", "business", "now", "start", "service", "outcome", "if_asked"})


def _redact(data: Any, name: str | None, phones: list[str]) -> Any:
    """Replace ``name`` and ``phones`` (first -> REDACTED_PHONE) in every string of ``data``."""
    subs = dict(zip(phones, (REDACTED_PHONE, REDACTED_OTHER_PHONE), strict=False))
    tails = {re.sub(r"\D", "", p)[-10:]: r for p, r in subs.items()}
    words = (name or "").split()
    pairs = [(name, REDACTED_NAME)] if name else []
    pairs += list(zip(words[:1] + words[1:][-1:], ("Caller", "Name"), strict=False))

    def spoken_phone(m: re.Match[str]) -> str:  # "555 123 0001", "(555) 123-0001", ...
        digits = re.sub(r"\D", "", m[0])
        return next((r for tail, r in tails.items() if len(digits) >= 7 and (
            tail.endswith(digits) or digits.endswith(tail))), m[0])

    def fix(text: str) -> str:
        for phone, placeholder in subs.items():
            text = text.replace(phone, placeholder)
        text = _PHONE_RUN.sub(spoken_phone, text)
        for word, placeholder in pairs:
            if len(word) > 1:
                text = re.sub(rf"(?i)(?<!\w){re.escape(word)}(?!\w)", placeholder, text)
        return text

    def walk(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: walk(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, key) for v in value]
        return fix(value) if isinstance(value, str) and key not in _NOT_PERSONAL else value

    return walk(data)


def dump_script(script: dict[str, Any]) -> str:
    return yaml.safe_dump(script, sort_keys=False, allow_unicode=True, width=100)
