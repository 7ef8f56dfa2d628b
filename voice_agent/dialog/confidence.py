"""How sure are we that a booking is what the caller wanted?

Each booking gets a confidence record built from what could have gone wrong on the way:
the STT confidence of the turns that carried its slots, whether the caller explicitly
confirmed, how often the caller was not understood, connector retries, and LLM tool
proposals the policy had to correct. Below the threshold the booking goes to the human
review queue instead of the calendar, and the caller is told it will be confirmed.

LLM disagreement is recorded but does not lower the score unless asked to
(``count_llm_disagreement``): the embedded 0.5B CPU model proposes a wrong date for most
relative dates, so counting it would send every CPU booking to review; with a 7-8B model in
production it is a useful signal.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ConfidenceRecord:
    stt_avg_logprobs: list[float] = field(default_factory=list)  # turns that carried slots
    explicit_confirmation: bool = False
    misunderstandings: int = 0
    connector_retries: int = 0
    llm_disagreements: int = 0

    def score(self, *, count_llm_disagreement: bool = False) -> float:
        """0..1: the probability-like product of the weakest link and the penalties."""
        if not self.explicit_confirmation:
            return 0.0
        stt = math.exp(min(self.stt_avg_logprobs)) if self.stt_avg_logprobs else 1.0
        penalty = 0.85 ** self.misunderstandings * 0.95 ** self.connector_retries
        if count_llm_disagreement:
            penalty *= 0.8 ** self.llm_disagreements
        return round(max(0.0, min(1.0, stt * penalty)), 4)

    def as_dict(self, *, count_llm_disagreement: bool = False) -> dict[str, Any]:
        return asdict(self) | {"score": self.score(count_llm_disagreement=count_llm_disagreement)}
