"""What a free (open-turn) LLM reply may say, and when the LLM may hand a call over.

The LLM proposes, the policy disposes: a reply that states times, numbers or booking facts
without a tool result behind it, agrees to something or says what the business does or offers,
speaks of booking actions outside a question, talks about itself (a small model's "I'm an AI
designed to assist with phone calls"), merely repeats the caller, or asks nothing while
the agent is waiting for one answer (a name, a number, a day, a time: "I'm sorry, I can't assist
with that." would leave the caller stranded) is replaced by the policy's clarifying question.
"""

from __future__ import annotations

import re

from voice_agent.dialog.understanding import HUMAN_HINT

__all__ = ["reply_problem", "transfer_justified"]

# Talking about booking is fine in a question ("What would you like to book?"), not in a
# statement ("I'll book that for you").
_UNSAFE_REPLY = re.compile(
    r"\d|\{|\b(free|available|availability|booked|confirmed|reserved|scheduled|slot|"
    r"cancelled|canceled|moved)\b", re.IGNORECASE,
)
_BOOKING_TALK = re.compile(r"\b(book|booking|appointment|cancel|reschedule)\b", re.IGNORECASE)
# Agreeing, or saying what the business does, offers or has: a claim only the business's data
# or a tool result may make ("Yes, I do blow-dry", "We offer massages").
_CLAIM = re.compile(
    r"^\W*(?:yes|yeah|yep|sure|of course|absolutely|certainly|definitely|indeed)\b|"
    r"\b(?:we|i)(?:'re| are)? (?:do|can|offer|have|provide|open|close|sell)\b(?!['’]t| not)|"
    r"\bthere (?:is|are|'s)\b|"
    r"\b(?:we|i)(?:'ll| will) (?:do|be|have|see|get|send|call|text)\b", re.IGNORECASE)
# The model describing itself instead of answering: no caller asked.
_SELF_TALK = re.compile(
    r"\b(?:an? (?:ai|artificial intelligence|(?:large )?language model|virtual assistant|"
    r"chat ?bot|bot)|as an ai|designed to (?:assist|help|provide))\b", re.IGNORECASE)
MAX_REPLY_CHARS = 300
# Questions the dialog waits on: a free reply must keep asking (or be replaced by the re-ask).
_PENDING_ANSWERS = frozenset({"name", "phone", "date", "time", "confirm", "service"})


def _words(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def reply_problem(text: str, caller_text: str, asked: str | None = None) -> str | None:
    """Why the LLM's reply may not be said (None: it may). ``asked``: what the agent's
    previous turn asked for."""
    if not text:
        return "empty or tool call"
    if len(text) > MAX_REPLY_CHARS:
        return "too long"
    if _UNSAFE_REPLY.search(text):
        return "states times, numbers or booking facts without a tool result"
    if _SELF_TALK.search(text):
        return "talks about itself, not the caller's request"
    if _CLAIM.search(text):
        return "agrees to or claims something no business data or tool result stands behind"
    statements = [p for p in re.split(r"(?<=[.!?])\s+", text) if not p.endswith("?")]
    if any(_BOOKING_TALK.search(p) for p in statements):
        return "speaks of booking actions outside a question"
    if caller_text and _words(text) == _words(caller_text):  # a small model's parroting
        return "repeats the caller"
    if asked in _PENDING_ANSWERS and "?" not in text:
        return f"asks nothing while a {asked} answer is pending"
    return None


def transfer_justified(caller_text: str, misunderstandings: int) -> bool:
    """The LLM may hand the call over only when the caller hinted at a person, or the agent
    failed to understand them before this turn too: a small model otherwise transfers
    callers whose request it merely finds unusual."""
    return bool(HUMAN_HINT.search(caller_text.lower())) or misunderstandings >= 2
