"""What a free (open-turn) LLM reply may say, and when the LLM may hand a call over.

The LLM proposes, the policy disposes: a reply that states times, numbers or booking facts
without a tool result behind it, speaks of booking actions outside a question, or merely repeats
the caller is replaced by the policy's clarifying question.
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
MAX_REPLY_CHARS = 300


def _words(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def reply_problem(text: str, caller_text: str) -> str | None:
    """Why the LLM's reply may not be said (None: it may)."""
    if not text:
        return "empty or tool call"
    if len(text) > MAX_REPLY_CHARS:
        return "too long"
    if _UNSAFE_REPLY.search(text):
        return "states times, numbers or booking facts without a tool result"
    statements = [p for p in re.split(r"(?<=[.!?])\s+", text) if not p.endswith("?")]
    if any(_BOOKING_TALK.search(p) for p in statements):
        return "speaks of booking actions outside a question"
    if caller_text and _words(text) == _words(caller_text):  # a small model's parroting
        return "repeats the caller"
    return None


def transfer_justified(caller_text: str, misunderstandings: int) -> bool:
    """The LLM may hand the call over only when the caller hinted at a person, or the agent
    failed to understand them before this turn too: a small model otherwise transfers
    callers whose request it merely finds unusual."""
    return bool(HUMAN_HINT.search(caller_text.lower())) or misunderstandings >= 2
