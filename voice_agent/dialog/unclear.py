"""A turn heard badly that still left something to ask: ask the caller to repeat it.

Over a phone line whisper often hears part of an utterance and garbles the rest: "Hi, can I
book a check-up tomorrow at 4?" came through as "I can't help you, check up, the model last
four." The reading finds the service, not the day, and the plain next question ("What day
would you like to come in?") treats the caller as if they had named none: a caller who did
say one is puzzled, and one who cannot think why they are asked again says they don't know.
A receptionist on a bad line says what they caught and asks for the rest to be repeated.

The signal is the turn's STT confidence (its average log-probability), not the words: a
confidently heard "I'd like a check-up" that names no day gets the plain question. Asked once
per question kind per call, so a caller on a bad line is never asked to repeat in a loop.
"""

from __future__ import annotations

from typing import Any

from voice_agent.dialog.replies import Say
from voice_agent.dialog.state import DialogState

__all__ = ["UNCLEAR_LOGPROB", "ask_to_repeat_if_unclear", "clarify_unheard"]

# Below this average log-probability a turn is "heard badly". Measured on the 19-script audio
# run (evals/results/handwritten-audio19b-*: 3 voices x 2 lines): every first turn the robotic
# espeak voice said (-0.31 to -1.08; the day or the service lost in 4 of 5) is below it, 10 of
# the 12 first turns the Piper voices said (-0.10 to -0.38, each heard right) are above.
UNCLEAR_LOGPROB = -0.3

# The policy's question for a slot the caller may already have said -> the same question
# asking for it to be repeated. "We don't offer that" is a claim about what the caller asked
# for: on a turn heard badly it is more likely a mishearing ("Hello, I need an explanation."
# for "... an examination.") than a service we lack, so the caller is asked to repeat it.
REPEAT_KEYS = {"ask_day": "repeat_day", "ask_service": "repeat_service",
               "offer_times": "repeat_time", "unknown_service": "repeat_service"}


def ask_to_repeat_if_unclear(say: Any, state: DialogState, stt_avg_logprob: float | None,
                             events: list[dict[str, Any]]) -> Any:
    """``say`` (a :class:`Say` or a free reply), or its ask-to-repeat form when the turn was
    heard badly and the question is one the caller may have answered already."""
    if (not isinstance(say, Say) or say.key not in REPEAT_KEYS or stt_avg_logprob is None
            or stt_avg_logprob >= UNCLEAR_LOGPROB or say.key in state.repeat_asked):
        return say
    state.repeat_asked.add(say.key)
    events.append({"event": "ask_to_repeat", "instead_of": say.key,
                   "stt_avg_logprob": round(stt_avg_logprob, 3)})
    return Say(REPEAT_KEYS[say.key], say.args, asked=say.asked, lead=say.lead)


def clarify_unheard(stt_avg_logprob: float | None, events: list[dict[str, Any]]) -> bool:
    """Whether a turn the policy has no certain step for was heard too badly for the LLM to
    answer it freely: then the clarifying question is asked instead. On the 40-script audio
    run every such turn was heard badly (log-prob -0.23 to -0.81: "Hello, I lead an
    improvisation." for "Hello, I need an examination."), and of the four free replies the
    guard let through, two were the small model's "I'm an AI designed to assist with phone
    calls" and one greeted the caller again mid-call."""
    if stt_avg_logprob is None or stt_avg_logprob >= UNCLEAR_LOGPROB:
        return False
    events.append({"event": "clarify_unheard", "stt_avg_logprob": round(stt_avg_logprob, 3)})
    return True
