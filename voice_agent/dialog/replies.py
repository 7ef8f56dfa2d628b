"""The agent's words: reply templates (``prompts/policy_replies.v2.yaml``) filled in.

The booking policy decides *what* to say (a :class:`Say`: a template key and its slots); this
module decides *how* it is said: days, times, lists of times and alternatives in spoken form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any

from connectors.base import Booking, Slot
from connectors.schedule import Business, Service
from voice_agent.dialog.timeparse import describe_day, describe_time

__all__ = ["ReplyRenderer", "Say", "fixed_sentences", "join_words", "with_article"]


@dataclass
class Say:
    key: str
    args: dict[str, Any] = field(default_factory=dict)
    asked: str | None = None
    end_call: bool = False
    outcome: str | None = None
    # Said first, before the reply itself: an answer to the caller's question, "the earliest
    # I have is ...". Each is (template key, its arguments).
    lead: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def with_article(noun: str) -> str:
    """'a haircut', 'an emergency appointment'."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def join_words(items: list[str], last: str = "and") -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {last} " + items[-1]


class ReplyRenderer:
    def __init__(self, *, business: Business, replies: dict[str, str], today: date) -> None:
        self.business = business
        self.replies = replies
        self.today = today

    def render(self, say: Say) -> str:
        parts = [self._fill(key, args) for key, args in say.lead]
        return " ".join([*parts, self._fill(say.key, say.args)])

    def _fill(self, key: str, values: dict[str, Any]) -> str:
        args = {"business": self.business.display_name, "services": self.service_list(),
                "with_staff": ""}
        args.update(values)
        if "service" in args:
            args.setdefault("a_service", with_article(str(args["service"])))
            args["A_service"] = args["a_service"][:1].upper() + args["a_service"][1:]
        text = self.replies[key].format(**args)
        # "on tomorrow" reads badly: "On tomorrow I have" -> "Tomorrow I have".
        text = re.sub(r"\b(on|for) (today|tomorrow)\b", r"\2", text)
        return re.sub(r"(^|[.?!]\s+)(On|For) (today|tomorrow)\b",
                      lambda m: m.group(1) + m.group(3).capitalize(), text)

    def service_list(self) -> str:
        return join_words([s.name.lower() for s in self.business.services])

    def day(self, day: date) -> str:
        return describe_day(day, self.today)

    def times(self, slots: list[Slot], *, last: str = "and") -> str:
        return join_words([describe_time(s.start.timetz()) for s in slots], last=last)

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

    # -- answers from business data ------------------------------------------------------
    def hours_answer(self, day: date | None) -> tuple[str, dict[str, Any]]:
        """Opening hours for the day asked about, or for the week."""
        if day is not None:
            window = self.business.opening_window(day)
            weekday = WEEKDAY_NAMES[day.weekday()]
            if window is None:
                return "answer_closed", {"weekday": weekday}
            return "answer_hours_day", {"weekday": weekday, "opens": describe_time(
                window[0].timetz()), "closes": describe_time(window[1].timetz())}
        spans: list[tuple[str, str, str, str]] = []  # first day, last day, opens, closes
        for i, key in enumerate(DAY_KEYS):
            hours = self.business.hours.get(key)
            if hours is None:
                continue
            opens, closes = (describe_time(_hhmm(h)) for h in hours)
            if spans and spans[-1][2:] == (opens, closes) and DAY_KEYS.index(
                    _key_of(spans[-1][1])) == i - 1:
                spans[-1] = (spans[-1][0], WEEKDAY_NAMES[i], opens, closes)
            else:
                spans.append((WEEKDAY_NAMES[i], WEEKDAY_NAMES[i], opens, closes))
        week = join_words([f"{a} to {b} from {o} to {c}" if a != b else f"{a} from {o} to {c}"
                           for a, b, o, c in spans])
        return "answer_hours_week", {"week": week}

    def duration_answer(self, service: Service | None) -> tuple[str, dict[str, Any]]:
        if service is not None:
            return "answer_duration", {"service": service.name.lower(),
                                       "minutes": service.minutes}
        listed = join_words([f"{with_article(s.name.lower())} takes {s.minutes} minutes"
                             for s in self.business.services])
        return "answer_durations", {"durations": listed}


WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


_SENTENCE = re.compile(r"[^.!?]+[.!?]*")
_FIELD = re.compile(r"{(\w*)}")


# A sentence's opening words up to its first comma or semicolon ("I'm sorry,", "Just to
# check,"), when short and followed by the body of the sentence: spoken on their own, their
# audio is ready at once (and the same on every call) while the rest is synthesised.
_LEAD = re.compile(r"^(.+?(?:[,;]|:(?=\s)))\s+(\S.*)$", re.DOTALL)
MAX_LEAD_WORDS = 4
MIN_REST_WORDS = 3


def lead_clause(sentence: str) -> list[str]:
    """``[lead, rest]`` when the sentence opens with a short clause, else ``[sentence]``."""
    m = _LEAD.match(sentence.strip())
    if m and len(m[1].split()) <= MAX_LEAD_WORDS and len(m[2].split()) >= MIN_REST_WORDS:
        return [m[1], m[2]]
    return [sentence]


def fixed_sentences(replies: dict[str, str], business: Business) -> set[str]:
    """The sentences this business's replies always say word for word ("Can I have your
    name for the booking, please?"), and the short clauses that open sentences ("I'm
    sorry,"): a template's sentences and leads whose only slots are the business's own name
    and services. Nothing a caller said, no day, time or name is in one,
    so their audio can be synthesised once and reused on every call."""
    renderer = ReplyRenderer(business=business, replies={}, today=date.min)
    own = {"business": business.display_name, "services": renderer.service_list()}
    fixed = set()
    for template in replies.values():
        for sentence in _SENTENCE.findall(template):
            for part in [sentence, *lead_clause(sentence)[:-1]]:  # and its lead, on its own
                if all(name in own for name in _FIELD.findall(part)):
                    fixed.add(part.format(**own).strip())
    return {s for s in fixed if s}


def _key_of(weekday_name: str) -> str:
    return DAY_KEYS[WEEKDAY_NAMES.index(weekday_name)]


def _hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))
