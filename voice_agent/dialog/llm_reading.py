"""The LLM's reading of one caller turn: words under a JSON schema, resolved in code.

The LLM gets the business (services with aliases, staff, hours), what the agent just said (the
question pending, the options it offered, numbered), the booking in progress and the caller's
words, and returns one JSON object constrained by :data:`READING_SCHEMA` (llama.cpp's
``response_format`` schema grammar; vLLM's structured outputs: the same OpenAI-compatible
request). It holds *words*, never computed values: the dialog acts, the intent, the service
and staff as said, each date/time expression as said with its role and constraint, the option
chosen, the name as said and any spelled letters, for whom, the digits, the question asked.

:func:`resolve` turns it into the same :class:`Understanding` the fast reader produces, with
the same resolvers (dates and times against the business clock, fuzzy service and staff
matching, names and spelling). A phrase the LLM returns that is not in the caller's words is
dropped: the model may misread, it may not invent. A reply that fails the schema is a reading
we did not get, never a guess.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import openai
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rapidfuzz import fuzz

from connectors.base import Slot
from connectors.schedule import Business
from voice_agent.dialog.matching import match_service, match_staff
from voice_agent.dialog.names import extract_phone, read_name
from voice_agent.dialog.timeparse import describe_day, describe_time, parse_date, parse_time
from voice_agent.dialog.understanding import Constraint, Understanding

__all__ = ["READING_SCHEMA", "LLMReader", "LLMReading", "ReadingContext", "resolve"]

log = logging.getLogger(__name__)
SchemaMode = Literal["llama_cpp", "openai"]

Act = Literal["affirm", "deny", "correct", "choose_option", "ask_question", "want_human",
              "done", "unsure", "no_preference", "request_alternatives", "other"]


class When(BaseModel):
    model_config = ConfigDict(extra="ignore")
    said: str = Field(max_length=80)
    role: Literal["wanted", "not_wanted", "existing", "new"] = "wanted"
    constraint: Literal["exact", "earliest", "latest", "before", "after", "between",
                        "part_of_day", "same_as_before"] = "exact"


class LLMReading(BaseModel):
    model_config = ConfigDict(extra="ignore")
    acts: list[Act] = Field(default_factory=list, max_length=6)
    intent: Literal["book", "reschedule", "cancel", "ask", "other", "none"] = "none"
    service: str = Field("", max_length=60)
    staff: str = Field("", max_length=60)
    when: list[When] = Field(default_factory=list, max_length=4)
    option: int = Field(0, ge=-1, le=9)
    name: str = Field("", max_length=80)
    spelled: str = Field("", max_length=80)
    for_whom: Literal["self", "other"] = "self"
    phone: str = Field("", max_length=40)
    question: str = Field("", max_length=120)


READING_SCHEMA: dict[str, Any] = LLMReading.model_json_schema()

# The same bytes for every turn of every call to any business: the LLM server keeps this prefix
# evaluated (llama.cpp's last prompt, vLLM's prefix cache); what varies comes after it.
_SYSTEM = """You read what a caller said to a receptionist. Reply with one JSON object only. \
Copy the caller's own words; never work out dates, times or numbers yourself.
Fields: acts (what the caller does: affirm = yes, deny = no, correct = fixes something, \
choose_option = picks one of the offered times, ask_question, want_human, done = nothing more, \
unsure = does not know, no_preference = any time is fine, request_alternatives = wants other \
times); intent (book, reschedule, cancel, ask, other, none); service and staff as said; \
when: each day or time phrase as said, with role (wanted, not_wanted, existing = the booking \
they have, new = where to move it) and constraint (exact, earliest, latest, before, after, \
between, part_of_day, same_as_before); option: the number of the offered time chosen, -1 for \
the last, 0 for none; name as said and spelled letters; for_whom (self or other); phone digits \
as said; question as asked. Leave out what the caller did not say."""


@dataclass(frozen=True)
class ReadingContext:
    """What the agent knows when the caller speaks."""

    agent_said: str  # the agent's last utterance (the question pending)
    asked: str | None  # service | date | time | name | phone | confirm | anything
    offered: tuple[Slot, ...] = ()  # the times just offered, in order
    booking: str = ""  # the booking in progress, in words


def _said(phrase: str, text: str) -> bool:
    """The phrase is in the caller's words (allowing small differences of form)."""
    phrase, text = phrase.strip().lower(), text.lower()
    return bool(phrase) and (phrase in text or fuzz.partial_ratio(phrase, text) >= 85)


def resolve(reading: LLMReading, business: Business, today: date, text: str) -> Understanding:
    """The LLM's words, resolved in code into the dialog's reading of the turn."""
    u = Understanding(text=text)
    acts = set(reading.acts)
    if reading.service and _said(reading.service, text):
        found = match_service(reading.service, business)
        u.service = business.service(found.value) if found else None
        u.service_mentioned_unknown = found is None
    if reading.staff and _said(reading.staff, text):
        found = match_staff(reading.staff, business)
        u.staff = found.value if found else None
    for when in reading.when:
        if not _said(when.said, text) or when.role == "not_wanted":
            continue
        day = parse_date(when.said, today)
        tod = parse_time(when.said)
        if day is not None:
            if day not in u.days:
                u.days.append(day)
            if when.role != "existing" or u.day is None:
                u.day = day
        if tod is not None:
            bound = tod.exact
            if when.constraint in ("before", "after", "between") and bound is not None:
                u.constraint = Constraint(when.constraint, after=bound if when.constraint != (
                    "before") else None, before=bound if when.constraint == "before" else None)
            elif when.constraint in ("earliest", "latest"):
                u.constraint = Constraint(when.constraint)
                u.tod = tod if tod.exact is None else None
            elif when.role != "existing" or u.tod is None:
                u.tod = tod
        elif when.constraint in ("earliest", "latest"):
            u.constraint = Constraint(when.constraint)
        if when.constraint == "same_as_before":
            u.same_time = True
    if reading.option and "choose_option" in acts:
        u.option = reading.option
    name_words = " ".join(w for w in (reading.name, reading.spelled) if w)
    if name_words and all(_said(w, text) for w in (reading.name, reading.spelled) if w):
        name = read_name(name_words, asked=True)
        u.name = name.name
    u.for_other = reading.for_whom == "other"
    if reading.phone and _said(reading.phone, text):
        u.phone = extract_phone(reading.phone)
    u.affirm = "affirm" in acts and "deny" not in acts
    u.deny = "deny" in acts and "affirm" not in acts
    u.done = "done" in acts
    u.unsure = "unsure" in acts
    u.no_preference = "no_preference" in acts
    u.wants_alternatives = "request_alternatives" in acts
    u.wants_human = "want_human" in acts
    u.wants_booking = reading.intent == "book"
    u.wants_cancel = reading.intent == "cancel"
    u.wants_reschedule = reading.intent == "reschedule"
    if "ask_question" in acts and reading.question and _said(reading.question, text):
        u.question = "other"
    return u


def _context_lines(business: Business, today: date, context: ReadingContext) -> str:
    staff = ", ".join(business.staff) or "none named"
    services = "; ".join(
        s.name + (f" (also: {', '.join(s.aliases)})" if s.aliases else "")
        for s in business.services)
    lines = [f"Business: {business.display_name}. Services: {services}. Staff: {staff}.",
             f"Today is {describe_day(today, date.min)}.",
             f"The receptionist said: \"{context.agent_said}\""]
    if context.offered:
        options = "; ".join(
            f"{i}: {describe_day(s.start.date(), today)} at {describe_time(s.start.timetz())}"
            for i, s in enumerate(context.offered, 1))
        lines.append(f"Times offered: {options}.")
    if context.booking:
        lines.append(f"Booking so far: {context.booking}.")
    return "\n".join(lines)


class LLMReader:
    """Reads turns with the call's LLM server under the schema (one request per turn)."""

    def __init__(self, llm: openai.AsyncOpenAI, *, model: str, business: Business,
                 schema_mode: SchemaMode = "llama_cpp", max_tokens: int = 140) -> None:
        self.llm = llm
        self.model = model
        self.business = business
        self.schema_mode = schema_mode
        self.max_tokens = max_tokens
        self.system = _SYSTEM

    def _response_format(self) -> dict[str, Any]:
        if self.schema_mode == "openai":
            return {"type": "json_schema", "json_schema": {
                "name": "turn_reading", "schema": READING_SCHEMA, "strict": False}}
        return {"type": "json_object", "schema": READING_SCHEMA}

    async def read(self, text: str, today: date, context: ReadingContext
                   ) -> tuple[LLMReading | None, float]:
        """The reading (None when the server fails or the reply breaks the schema) and the
        seconds it took."""
        t0 = time.perf_counter()
        messages = [{"role": "system", "content": self.system},
                    {"role": "user", "content": _context_lines(self.business, today, context)
                     + f"\nThe caller said: \"{text}\""}]
        try:
            resp = await self.llm.chat.completions.create(
                model=self.model, messages=messages, temperature=0, max_tokens=self.max_tokens,
                response_format=self._response_format(),  # type: ignore[arg-type]
            )
            raw = resp.choices[0].message.content or ""
            reading = LLMReading.model_validate(json.loads(raw))
        except (openai.OpenAIError, json.JSONDecodeError, ValidationError, IndexError) as exc:
            log.warning("LLM reading failed: %s", type(exc).__name__)
            return None, time.perf_counter() - t0
        return reading, time.perf_counter() - t0
