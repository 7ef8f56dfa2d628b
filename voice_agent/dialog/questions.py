"""Questions about the business, answered from its own data before the booking goes on.

Hours, durations and services are answered from the business definition; anything else with
an honest "I don't know". A day asked about is not, by itself, a day to book: "are you open on
Saturdays?" leaves the booking's day open, but the day is kept as the context of the next
request ("great, a trim at 11 then" is for Saturday) when the business is open then. A day said
with a booking request in the same breath ("a haircut on Friday at 2, and when do you close on
Friday?") is the booking's.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

from connectors.schedule import Business
from voice_agent.dialog.replies import ReplyRenderer
from voice_agent.dialog.state import DialogState
from voice_agent.dialog.understanding import Understanding

__all__ = ["answer_question", "day_from_context"]


def answer_question(words: ReplyRenderer, business: Business, state: DialogState,
                    u: Understanding, lead: list[tuple[str, dict[str, Any]]]) -> Understanding:
    """Append the answer to ``lead``; the reading the booking goes on with."""
    if u.question is None:
        return u
    if u.question == "hours":
        lead.append(words.hours_answer(u.day))
        open_day = u.day is not None and business.opening_window(u.day) is not None
        if open_day and (u.service is not None or u.wants_booking or (
                u.tod is not None and u.tod.exact is not None)):
            return u  # the day of the booking asked for with the question
        state.hours_day = u.day if open_day else None
        return dataclasses.replace(u, day=None, days=[])
    if u.question == "duration":
        lead.append(words.duration_answer(u.service or state.service))
    elif u.question == "services":
        if u.service is not None:
            lead.append(("answer_we_do", {"service": u.service.name.lower()}))
        elif not u.service_mentioned_unknown:
            lead.append(("answer_services", {}))
    else:
        lead.append(("answer_unknown", {}))
    return u


def day_from_context(state: DialogState, u: Understanding, context_day: date | None) -> None:
    """A booking asked for without a day in the turn right after the hours of an open day
    (``context_day``): that day."""
    if state.day is None and u.day is None and context_day is not None and (
            u.has_slot_info or u.wants_booking or u.constraint is not None):
        state.day = context_day
