"""What one caller turn produced: the reply, the tool calls and the events stored with it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["TurnResult"]


@dataclass
class TurnResult:
    agent_text: str
    end_call: bool = False
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    policy_events: list[dict[str, Any]] = field(default_factory=list)
    llm_messages: list[dict[str, Any]] = field(default_factory=list)
    llm_first_token_ts: float | None = None
    llm_calls: int = 0
    # The STT confidence of the caller's words (None in text mode): a turn heard badly gets
    # no free LLM reply (``unclear.clarify_unheard``).
    stt_avg_logprob: float | None = None
