"""How sure are we that a booking is what the caller wanted?

Each booking gets a confidence record built from what could have gone wrong on the way:
the STT confidence of the turns that carried its slots (for the name: the turn it was finally
taken from, the spelling when the caller spelled it), whether a name heard over the phone was
spelled, whether the caller explicitly confirmed, how often the caller was not understood,
connector retries, and LLM tool proposals the policy had to correct. Below the threshold the
booking goes to the human review queue instead of the calendar, and the caller is told it
will be confirmed.

LLM disagreement is recorded but does not lower the score unless asked to
(``count_llm_disagreement``): the embedded 0.5B CPU model proposes a wrong date for most
relative dates, so counting it would send every CPU booking to review; with a 7-8B model in
production it is a useful signal.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

# A name only heard (whisper base writes unfamiliar names as other words at any log-prob) is
# worth half: with an STT log-prob below about -0.1 the booking goes to review, not to the
# calendar under a name nobody said.
UNVERIFIED_NAME_FACTOR = 0.5


@dataclass
class ConfidenceRecord:
    stt_avg_logprobs: list[float] = field(default_factory=list)  # turns that carried slots
    name_stt_avg_logprob: float | None = None  # the turn the name was taken from
    name_unverified: bool = False  # heard over the phone and never spelled
    explicit_confirmation: bool = False
    misunderstandings: int = 0
    connector_retries: int = 0
    llm_disagreements: int = 0

    def score(self, *, count_llm_disagreement: bool = False) -> float:
        """0..1: the probability-like product of the weakest link and the penalties."""
        if not self.explicit_confirmation:
            return 0.0
        logprobs = [*self.stt_avg_logprobs, *(
            [self.name_stt_avg_logprob] if self.name_stt_avg_logprob is not None else [])]
        stt = math.exp(min(logprobs)) if logprobs else 1.0
        penalty = 0.85 ** self.misunderstandings * 0.95 ** self.connector_retries
        if self.name_unverified:
            penalty *= UNVERIFIED_NAME_FACTOR
        if count_llm_disagreement:
            penalty *= 0.8 ** self.llm_disagreements
        return round(max(0.0, min(1.0, stt * penalty)), 4)

    def as_dict(self, *, count_llm_disagreement: bool = False) -> dict[str, Any]:
        return asdict(self) | {"score": self.score(count_llm_disagreement=count_llm_disagreement)}
