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

``next_caller_line`` applies EVAL_FORMAT's rules, in order: (1) when the agent asks for a kind
and a remaining line is held for it (``if_asked``), the first such line is said wherever it
stands; (2) otherwise the next line, if it is not held (or held for ``anything`` and a question
was asked); (3) otherwise, asked to repeat ("say that again", "didn't catch", "pardon",
"repeat"), the last line again; (4) otherwise an answer from ``facts`` (``confirm``, ``service``,
``name``, ``phone``, ``email``, ``date``, ``time``; several asked kinds are joined, e.g. date and
time); asked for a number with no ``facts.phone``: "The number I'm calling from is fine."; asked
to spell the name: ``facts.name`` letter by letter; asked to type digits on the keypad: the
digits as DTMF; else "Sorry, I don't know."; (5) asked nothing: "Okay." With the agent's text
unknown (``agent_text=None``: audio mode without a transcript) the next line is said regardless
of ``if_asked``. ``caller_hangs_up`` says when a caller with no lines left hangs up. Every line
carries a label (what it answers) that the judges read instead of the words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "ASK_KINDS",
    "CALLING_NUMBER_IS_FINE",
    "DONT_KNOW",
    "NOTHING_ASKED",
    "CallerLine",
    "ScriptedCaller",
    "caller_hangs_up",
    "classify_question",
    "next_caller_line",
    "spell",
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
_FACT_ORDER = ("confirm", "service", "name", "phone", "email", "date", "time")
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


_REPEAT = re.compile(r"say that again|didn'?t (?:quite )?catch|pardon|repeat")
_SPELL = re.compile(r"\bspell")
_KEYPAD = re.compile(r"\b(?:keypad|type it|press hash|key it in)\b")
_GOODBYE = re.compile(r"\b(?:goodbye|good bye|bye)\b")
CALLING_NUMBER_IS_FINE = "The number I'm calling from is fine."


@dataclass(frozen=True)
class CallerLine:
    """What the simulated caller says next.

    ``consumed``: the index (in the remaining lines) of the scripted line said, or None.
    ``label``: what the line answers, for the judges: a scripted line's ``if_asked`` (None when
    it has none), ``facts:KIND,...`` for an answer from ``facts``, ``repeat:LABEL`` for a
    repeated line, ``spell:name``, ``dtmf:phone``, None for "Okay." / "I don't know."
    ``dtmf``: digits to send on the keypad (audio mode) instead of speaking.
    ``hangup``: the caller hangs up instead of speaking.
    """

    text: str
    consumed: int | None = None
    label: str | None = None
    dtmf: str | None = None
    hangup: bool = False


def spell(name: str) -> str:
    """'Dana Smith' -> 'D, A, N, A, then S, M, I, T, H' (as EVAL_FORMAT says callers spell)."""
    words = [", ".join(ch.upper() for ch in w if ch.isalpha()) for w in name.split()]
    return ", then ".join(w for w in words if w)


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def next_caller_line(
    script_turns_remaining: Sequence[_Turn],
    agent_text: str | None,
    facts: Mapping[str, str],
    *,
    last: CallerLine | None = None,
    caller_id: str | None = None,
) -> CallerLine:
    """The caller's next line, by EVAL_FORMAT's rules ("How the simulated caller answers").

    ``agent_text`` is the agent's last utterance, or None when it is unknown (then the next
    scripted line is said regardless of ``if_asked``); ``last`` is what the caller said before
    (for a repeat); ``caller_id`` the number it calls from (keypad digits without a phone fact).
    """
    asked = classify_question(agent_text) if agent_text is not None else None
    turns = list(script_turns_remaining)
    if asked is None:
        return _scripted(turns, 0) if turns else CallerLine(NOTHING_ASKED)
    specific = asked - {"anything"}
    # 1. a line held for the kind asked, wherever it stands
    for i, turn in enumerate(turns):
        if turn.if_asked is not None and turn.if_asked in specific:
            return _scripted(turns, i)
    # 2. the next line, when it is not held (or held for "anything" and a question was asked)
    if turns and (turns[0].if_asked is None or (turns[0].if_asked == "anything" and asked)):
        return _scripted(turns, 0)
    text = _normalise(agent_text or "")
    # 3. asked to repeat: the last line again
    if last is not None and last.text and _REPEAT.search(text) and not last.hangup:
        return CallerLine(last.text, None, f"repeat:{last.label}", dtmf=last.dtmf)
    if not asked:
        return CallerLine(NOTHING_ASKED)
    # 4. from facts
    if _SPELL.search(text) and facts.get("name"):
        return CallerLine(spell(facts["name"]), None, "spell:name")
    if "phone" in specific and _KEYPAD.search(text):
        digits = _digits(facts.get("phone") or caller_id or "")
        if digits:
            return CallerLine(" ".join(digits), None, "dtmf:phone", dtmf=digits + "#")
    wanted = set(specific)
    if agent_text is not None and _wants_email(agent_text):
        wanted.add("email")
    kinds = [k for k in _FACT_ORDER if k in wanted and facts.get(k)]
    if kinds:
        text_out = ", ".join(facts[k].rstrip(" .") for k in kinds) + "."
        return CallerLine(text_out, None, "facts:" + ",".join(kinds))
    if "phone" in wanted:
        return CallerLine(CALLING_NUMBER_IS_FINE, None, "facts:phone")
    return CallerLine(DONT_KNOW)


def _scripted(turns: list[_Turn], i: int) -> CallerLine:
    turn = turns[i]
    if getattr(turn, "hangup", False):
        return CallerLine("", i, None, hangup=True)
    return CallerLine(turn.say, i, turn.if_asked)


def caller_hangs_up(agent_text: str | None, *, lines_left: int, silent_turns: int) -> bool:
    """Rule 5: with no lines left, the caller hangs up when the agent says goodbye or has
    asked nothing twice in a row (``silent_turns``: the agent's turns in a row without a
    question)."""
    if lines_left:
        return False
    if agent_text is not None and _GOODBYE.search(_normalise(agent_text)):
        return True
    return silent_turns >= 2


class ScriptedCaller:
    """A script's caller, turn by turn: ``reply(agent_text)`` is the next line, or None when
    the caller hangs up (a ``hangup`` line, or rule 5). Text and audio mode share it; with the
    agent's words unknown (``None``) the next line is said, and a script stuck on held lines
    (``max_held`` answers in a row that say no line) says its next line anyway."""

    def __init__(self, turns: Sequence[_Turn], facts: Mapping[str, str], *,
                 caller_id: str | None, max_held: int = 3) -> None:
        self.remaining = list(turns)
        self.facts = facts
        self.caller_id = caller_id
        self.max_held = max_held
        self.held = 0
        self.silent = 0  # the agent's turns in a row that asked nothing
        self.last: CallerLine | None = None

    def reply(self, agent_text: str | None) -> CallerLine | None:
        if agent_text is not None:
            self.silent = 0 if "?" in agent_text else self.silent + 1
        silent = self.silent if agent_text is not None else 2
        if caller_hangs_up(agent_text, lines_left=len(self.remaining), silent_turns=silent):
            return None
        heard = agent_text if self.held < self.max_held else None
        line = next_caller_line(self.remaining, heard, self.facts, last=self.last,
                                caller_id=self.caller_id)
        if line.consumed is not None:
            self.remaining.pop(line.consumed)
        if line.hangup:
            return None
        self.held = 0 if line.consumed is not None else self.held + 1
        self.last = line
        return line
