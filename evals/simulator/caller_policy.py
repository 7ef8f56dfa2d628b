"""What the simulated caller says next: deterministic, keyword-based, no model.

``classify_question(agent_text)`` decides which of ``service, date, time, name, phone, confirm,
anything`` the agent's last utterance asks for. Text is lower-cased and curly apostrophes are
straightened; keywords match whole words ("confirm" does not match "confirmed"). If the
utterance contains question sentences (ending in "?"), only those are examined, so "Thanks for
your name. What time suits you?" asks for the time, not the name; otherwise the whole text is
examined (an agent may say "Please tell me your name." without a question mark).

==========  ==================================================================================
kind        rule: the examined text contains ...
==========  ==================================================================================
name        "your name", "who am i speaking", "who i'm speaking", "what name", "which name",
            "name for the booking", "name for the appointment", "under what name", "name please"
phone       "phone number", "number to reach", "contact number", "best number", "number we can",
            "callback number", "call you back"
confirm     "shall i book", "should i book", "confirm", "is that right", "is that correct",
            "does that work", "shall i go ahead", "should i go ahead", "want me to book",
            "like me to book", "sound good", "sounds good?", "is that ok"
date        "what day", "which day", "when would", "what date", "which date", "when do you",
            "when are you", "when works", "when is good", "when suits"
time        "what time", "which time", "time would", "time works", "time suits", "morning or
            afternoon", "day and time", "date and time", "how about", "what about" (the last
            two only with a "?")
service     "which service", "what service", "what can i", "how can i help", "what kind of",
            "what type of", "what would you like to book", "which treatment", "what brings you"
anything    any "?"
==========  ==================================================================================

``next_caller_line`` applies EVAL_FORMAT's rule. The next scripted line is said (and consumed)
when it has no ``if_asked``, when its ``if_asked`` is among the kinds asked (``anything`` matches
any question), or when the agent's text is unknown (``agent_text=None``: audio mode without a
transcript, where the caller cannot hold lines). When the agent asks something and the next
line is held for another question, the caller answers from ``facts`` (``name``, ``phone``,
``email``, ``date``, ``time``, ``service``; several asked kinds are joined, e.g. date and time)
or says "Sorry, I don't know."; when the agent asks nothing, the caller says "Okay." and keeps
the line. Neither consumes the line, so the caller's driver should bound such turns.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Protocol

__all__ = [
    "ASK_KINDS",
    "DONT_KNOW",
    "NOTHING_ASKED",
    "classify_question",
    "next_caller_line",
]

ASK_KINDS = frozenset({"service", "date", "time", "name", "phone", "confirm", "anything"})
DONT_KNOW = "Sorry, I don't know."
NOTHING_ASKED = "Okay."

# fmt: off
_RULES: dict[str, tuple[str, ...]] = {
    "name": (
        "your name", "who am i speaking", "who i'm speaking", "what name", "which name",
        "name for the booking", "name for the appointment", "under what name", "name please",
    ),
    "phone": (
        "phone number", "number to reach", "contact number", "best number", "number we can",
        "callback number", "call you back",
    ),
    "confirm": (
        "shall i book", "should i book", "confirm", "is that right", "is that correct",
        "does that work", "shall i go ahead", "should i go ahead", "want me to book",
        "like me to book", "sound good", "sounds good?", "is that ok",
    ),
    "date": (
        "what day", "which day", "when would", "what date", "which date", "when do you",
        "when are you", "when works", "when is good", "when suits",
    ),
    "time": (
        "what time", "which time", "time would", "time works", "time suits",
        "morning or afternoon", "day and time", "date and time",
    ),
    "service": (
        "which service", "what service", "what can i", "how can i help", "what kind of",
        "what type of", "what would you like to book", "which treatment", "what brings you",
    ),
}
_QUESTION_ONLY: dict[str, tuple[str, ...]] = {"time": ("how about", "what about")}
# fmt: on
# Order in which facts are given when several kinds are asked at once.
_FACT_ORDER = ("service", "name", "phone", "email", "date", "time")
_SENTENCE = re.compile(r"[^.!?]+[.!?]*")


def _compile(rules: dict[str, tuple[str, ...]]) -> dict[str, re.Pattern[str]]:
    """Keywords match whole words: "confirm" matches "can you confirm", not "confirmed"."""
    return {
        kind: re.compile("|".join(rf"(?<!\w){re.escape(k)}(?!\w)" for k in keys))
        for kind, keys in rules.items()
    }


_PATTERNS = _compile(_RULES)
_QUESTION_PATTERNS = _compile(_QUESTION_ONLY)


class _Turn(Protocol):
    @property
    def say(self) -> str: ...

    @property
    def if_asked(self) -> str | None: ...


def _normalise(text: str) -> str:
    return " ".join(text.lower().replace("\u2019", "'").replace("\u2018", "'").split())


def classify_question(agent_text: str) -> set[str]:
    """The kinds of answer the agent's last utterance asks for (empty set: no question)."""
    text = _normalise(agent_text)
    questions = [s.strip() for s in _SENTENCE.findall(text) if s.strip().endswith("?")]
    examined = " ".join(questions) if questions else text
    kinds = {kind for kind, pattern in _PATTERNS.items() if pattern.search(examined)}
    if questions:
        kinds.add("anything")
        kinds |= {k for k, pattern in _QUESTION_PATTERNS.items() if pattern.search(examined)}
    return kinds


def _wants_email(agent_text: str) -> bool:
    text = _normalise(agent_text)
    return "email" in text or "e-mail" in text


def next_caller_line(
    script_turns_remaining: Sequence[_Turn],
    agent_text: str | None,
    facts: Mapping[str, str],
) -> tuple[str, bool]:
    """The caller's next line and whether it consumed ``script_turns_remaining[0]``.

    ``agent_text`` is the agent's last utterance, or None when it is unknown (then the next
    scripted line is said regardless of ``if_asked``). With no lines left, the caller answers
    from facts as for a held line.
    """
    asked = classify_question(agent_text) if agent_text is not None else None
    if script_turns_remaining:
        turn = script_turns_remaining[0]
        if asked is None or turn.if_asked is None:
            return turn.say, True
        if turn.if_asked in asked or (turn.if_asked == "anything" and asked):
            return turn.say, True
    if not asked:
        return NOTHING_ASKED, False
    wanted = set(asked)
    if agent_text is not None and _wants_email(agent_text):
        wanted.add("email")
    answers = [facts[k] for k in _FACT_ORDER if k in wanted and facts.get(k)]
    if not answers:
        return DONT_KNOW, False
    return ", ".join(a.rstrip(" .") for a in answers) + ".", False
