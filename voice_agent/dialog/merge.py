"""Merge the fast (deterministic) reading of a turn with the LLM's, by explicit rules.

- A slot only one reader filled is taken from it (the LLM's phrases were already checked to be
  in the caller's words).
- Where both filled a slot that matters (service, day, time, staff, option, name) and they
  disagree, the merge does not choose: it reports a *conflict*, and the policy asks a targeted
  question ("Just to check: Wednesday the 9th, or Tuesday the 8th?").
- Yes, no and "the second one" lead straight to actions (a booking, a cancellation, a slot),
  so the LLM alone cannot make them: heard by the LLM only, they are *tentative* and the agent
  asks again; heard by the fast reader, they stand unless the LLM heard the opposite (then
  neither stands and the agent asks again). A small model hallucinates acts freely (measured:
  the 0.5B marks "affirm" on turns that hold none), so this is what keeps it from acting.
- A hand-over to a human needs the fast reader's words for a person (an LLM alone does not
  transfer callers); other acts are taken from either reader.

Whether the LLM reading runs at all on a CPU box is :func:`fast_reading_suffices`'s call: when
the fast reading is complete and unambiguous for the question pending, the LLM adds nothing
the policy would use (measured with ``voice-agent eval nlu`` and the call suites).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from voice_agent.dialog.understanding import Understanding

__all__ = ["Conflict", "Merged", "fast_reading_suffices", "merge", "reading_record"]

_SLOTS = ("service", "day", "tod", "staff", "option", "name")


@dataclass(frozen=True)
class Conflict:
    slot: str  # service | day | tod | staff | option | name
    fast: Any
    llm: Any


@dataclass
class Merged:
    understanding: Understanding
    conflicts: list[Conflict]


def _value(u: Understanding, slot: str) -> Any:
    value = getattr(u, slot)
    if slot == "service":
        return value.id if value else None
    if slot == "tod":
        return value.exact if value and value.exact else None
    if slot == "name":
        return value.casefold() if value else None
    return value


def merge(fast: Understanding, llm: Understanding | None, *, asked: str | None = None,
          staff: tuple[str, ...] = ()) -> Merged:
    """``asked``: what the agent's last question asked for; ``staff``: the business's staff
    (a name only the LLM heard is the caller's only when a name was asked for, and never a
    staff member's: "Tom's fine then" names the stylist)."""
    if llm is None:
        return Merged(fast, [])
    merged = dataclasses.replace(fast)
    conflicts: list[Conflict] = []
    for slot in _SLOTS:
        a, b = _value(fast, slot), _value(llm, slot)
        if slot == "option" and a is None and b is not None:
            merged.tentative = "option"  # "the second one" only the LLM heard: ask
            continue
        if slot == "name" and a is None and b is not None and (
                asked != "name" or b in {s.casefold() for s in staff}):
            continue
        if a is None and b is not None:
            setattr(merged, slot, getattr(llm, slot))
            if slot == "day":
                merged.days = list(llm.days)
        elif a is not None and b is not None and a != b:
            conflicts.append(Conflict(slot, getattr(fast, slot), getattr(llm, slot)))
    if fast.tod is None and llm.tod is not None and llm.tod.exact is None:
        merged.tod = llm.tod  # a part of day only the LLM read
    if merged.constraint is None:
        merged.constraint = llm.constraint
    merged.affirm = fast.affirm and not llm.deny
    merged.deny = fast.deny and not llm.affirm
    if not (fast.affirm or fast.deny) and (llm.affirm or llm.deny):
        merged.tentative = "affirm" if llm.affirm else "deny"
    # Acts that only lead to another question may come from either reader; those that end
    # a call or change a booking need the fast reader's words.
    for flag in ("unsure", "wants_alternatives", "same_time", "for_other", "wants_booking"):
        setattr(merged, flag, getattr(fast, flag) or getattr(llm, flag))
    merged.phone = fast.phone or llm.phone
    merged.question = fast.question or llm.question
    merged.wants_human = fast.wants_human  # the LLM alone never hands a caller over
    return Merged(merged, conflicts)


def fast_reading_suffices(u: Understanding, asked: str | None) -> bool:
    """The fast reading already answers the question pending, without ambiguity."""
    if u.affirm and u.deny:
        return False
    if asked == "confirm":
        return u.affirm or u.deny or u.has_slot_info
    if asked == "name":
        return bool(u.name) or u.deny
    if asked == "phone":
        return bool(u.phone) or u.affirm or u.deny or u.done
    if asked == "date":
        return u.day is not None or u.unsure or u.no_preference
    if asked == "time":
        return bool((u.tod and u.tod.exact) or u.option or u.constraint or u.no_preference
                    or u.unsure or u.day)
    if asked == "service":
        return u.service is not None or u.service_mentioned_unknown
    if asked == "booking":
        return bool(u.service or u.days or (u.tod and u.tod.exact))
    # An opening request: settled by the service, or by a request about an existing booking.
    return bool(u.service or u.done or u.wants_human or u.wants_cancel or u.wants_reschedule
                or u.cant_come or (u.question and not u.day))


def reading_record(u: Understanding) -> dict[str, Any]:
    """A JSON-safe record of one reading, for the turn row."""
    out: dict[str, Any] = {}
    for field in dataclasses.fields(u):
        value = getattr(u, field.name)
        if field.name == "text" or value in (None, False, [], ""):
            continue
        if field.name == "service":
            value = value.id
        elif field.name == "tod":
            value = {"exact": value.exact.isoformat() if value.exact else None,
                     "part": value.part}
        elif field.name == "constraint":
            value = {"kind": value.kind,
                     "after": value.after.isoformat() if value.after else None,
                     "before": value.before.isoformat() if value.before else None}
        elif field.name in ("day",):
            value = value.isoformat()
        elif field.name in ("days", "keep_days"):
            value = [d.isoformat() for d in value]
        out[field.name] = value
    return out
