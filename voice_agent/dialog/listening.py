"""What the agent expects to hear next, as a prompt for the speech recogniser.

A receptionist who has just asked "what time suits you?" hears "half past two", not "path pass
two": they listen for what can be meant. faster-whisper does the same when its
``initial_prompt`` holds the conversation so far: it is decoded as the text that came before the
audio, so the business's own words (its services and their aliases, its staff, the way times
and days are said) and the question just asked make the right reading the likely one.

The prompt is short (whisper reads at most 224 prompt tokens, and every token costs decoding
time on a CPU), written as a plausible preceding transcript, and never contains a caller's
details: it is built from the business fixture and the agent's own question only. Whether a
prompted transcript is kept is the recogniser's decision (``pipeline/whisper_model.py``
gates it against hallucination on noise).
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.schedule import Business

__all__ = ["EXAMPLE_NAMES", "Listening", "listening_prompt"]

# When a name is asked for, the prompt shows names in the form whisper should write them
# (measured on 24 script names said by the Piper caller voice: 13 heard right with these
# examples, 9 without). They are nobody's name here, so hearing one back is an echo.
EXAMPLE_NAMES = ("Sarah Johnson", "Michael O'Brien")


@dataclass(frozen=True)
class Listening:
    """The prompt, and phrases that are in it only as examples: heard back, they are an echo
    of the prompt, not the caller's words (``pipeline/whisper_model.py`` rejects them)."""

    prompt: str
    examples: tuple[str, ...] = ()
    # While a heard name is spelled: that name, for the recogniser to score the spelling's
    # audio against its letters (``pipeline/spelling_check.py``).
    spelling_of: str | None = None
    # What the question asked for ("name", "spell", ...): the recogniser keeps the audio of a
    # name said, to weigh it with its spelling (``pipeline/spelling_check.joint_evidence``).
    asked: str | None = None

_MAX_QUESTION_CHARS = 200

# How callers say what each question asks for, in the form whisper should write it.
_EXPECTED: dict[str, str] = {
    "time": "At half past two. Quarter to eleven. 3 pm. Eleven thirty in the morning.",
    "date": "Next Tuesday. Thursday the 3rd. Tomorrow morning. Monday afternoon.",
    "confirm": "Yes, please. No, thanks. That's right.",
    "phone": "Yes, that number is fine. It's 555 123 4567.",
    "spell": "S, M, I, T, H. J, O, N, E, S.",
    "service": "I'd like to book an appointment.",
    "name": ". ".join(EXAMPLE_NAMES) + ".",
}


def listening_prompt(business: Business, asked: str | None, question: str,
                     name: str | None = None) -> Listening:
    """The text whisper should take as coming just before the caller's answer.

    ``asked`` is the kind of answer the agent waits for (the dialog state's ``asked``, or
    ``spell`` while a name is being spelled); ``question`` what the agent last said;
    ``name`` the name heard so far (only passed on, while it is spelled, to be checked).
    The prompt itself never holds a caller's details."""
    services = ", ".join(
        dict.fromkeys(term for s in business.services for term in (s.name, *s.aliases)))
    parts = [f"{business.display_name}: {services}."]
    if business.staff:
        parts.append(f"With {', '.join(business.staff)}.")
    expected = _EXPECTED.get(asked or "", "")
    if expected:
        parts.append(expected)
    parts.append(" ".join(question.split())[-_MAX_QUESTION_CHARS:])
    return Listening(" ".join(parts), EXAMPLE_NAMES if asked == "name" else (),
                     name if asked == "spell" and name else None, asked)
