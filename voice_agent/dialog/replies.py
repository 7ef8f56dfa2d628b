"""The agent's words: reply templates (``prompts/policy_replies.v1.yaml``) filled in.

The booking policy decides *what* to say (a :class:`Say`: a template key and its slots); this
module decides *how* it is said: days, times, lists of times and alternatives in spoken form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from connectors.base import Booking, Slot
from connectors.schedule import Business, Service
from voice_agent.dialog.timeparse import describe_day, describe_time

__all__ = ["ReplyRenderer", "Say", "join_words"]


@dataclass
class Say:
    key: str
    args: dict[str, Any] = field(default_factory=dict)
    asked: str | None = None
    end_call: bool = False
    outcome: str | None = None


def join_words(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


class ReplyRenderer:
    def __init__(self, *, business: Business, replies: dict[str, str], today: date) -> None:
        self.business = business
        self.replies = replies
        self.today = today

    def render(self, say: Say) -> str:
        args = {"business": self.business.display_name, "services": self.service_list()}
        args.update(say.args)
        text = self.replies[say.key].format(**args)
        # "on tomorrow" reads badly: "On tomorrow I have" -> "Tomorrow I have".
        text = re.sub(r"\b(on|for) (today|tomorrow)\b", r"\2", text)
        return re.sub(r"(^|[.?!]\s+)(On|For) (today|tomorrow)\b",
                      lambda m: m.group(1) + m.group(3).capitalize(), text)

    def service_list(self) -> str:
        return join_words([s.name.lower() for s in self.business.services])

    def day(self, day: date) -> str:
        return describe_day(day, self.today)

    def times(self, slots: list[Slot]) -> str:
        return join_words([describe_time(s.start.timetz()) for s in slots])

    def slot_args(self, service: Service, slot: Slot, name: str | None) -> dict[str, Any]:
        return {
            "service": service.name.lower(),
            "day": self.day(slot.start.date()),
            "time": describe_time(slot.start.timetz()),
            "name": name or "",
        }

    def booking_args(self, booking: Booking) -> dict[str, Any]:
        local = booking.start.astimezone(self.business.tz)
        return {"service": self.business.service(booking.service).name.lower(),
                "day": self.day(local.date()), "time": describe_time(local.timetz())}

    def alternatives(self, slots: list[Slot]) -> str:
        if not slots:
            return self.replies["no_alternatives"]
        first_day = slots[0].start.date()
        labels = [describe_time(s.start.timetz()) for s in slots]
        if all(s.start.date() == first_day for s in slots):
            labels[-1] += f" on {self.day(first_day)}"
        else:
            labels = [f"{lbl} on {self.day(s.start.date())}"
                      for lbl, s in zip(labels, slots, strict=True)]
        return self.replies["alternatives"].format(times=join_words(labels))
