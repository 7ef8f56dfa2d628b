"""The LLM's own proposal for each tool call the policy makes, logged beside what ran.

The policy's arguments are executed either way, so a proposal never holds up the reply: it
runs in the background (on a CPU box a grammar-constrained tool call takes seconds) and is
logged on its turn when it lands (``DialogManager.settle``). A proposal that disagrees is a
signal for QA, and for the booking's confidence when configured so.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from voice_agent.dialog import tools as T
from voice_agent.dialog.llm_client import LLMClient, LLMUnavailableError

log = logging.getLogger(__name__)

Chat = Callable[..., Awaitable[Any]]


class ToolProposals:
    def __init__(self, client: LLMClient, chat: Chat, on_disagreement: Callable[[], None]
                 ) -> None:
        self.client = client
        self._chat = chat  # DialogManager._chat: one completion, logged on the turn
        self._on_disagreement = on_disagreement

    def propose(self, name: str, expected: dict[str, Any], turn: Any,
                messages: list[dict[str, Any]]) -> None:
        """Ask the LLM, forced, for the tool call ``name`` the policy makes with ``expected``."""
        self.client.in_background(lambda: self._propose(name, expected, turn, messages))

    async def _propose(self, name: str, expected: dict[str, Any], turn: Any,
                       messages: list[dict[str, Any]]) -> None:
        try:
            message = await self._chat(T.forced_choice(name), turn, messages=messages,
                                       background=True)
        except LLMUnavailableError:
            turn.policy_events.append({"event": "tool_proposal_failed", "tool": name})
            return
        calls = [c for c in self.client.calls_of(message) if c.name == name]
        proposed = calls[0].arguments if calls else None
        agree = proposed is not None and all(
            str(proposed.get(k, "")).strip().lower() == str(v).strip().lower()
            for k, v in expected.items() if k != "phone"
        )
        turn.policy_events.append({
            "event": "tool_proposal", "tool": name, "proposed": proposed,
            "source": calls[0].source if calls else None,
            "accepted": agree, "executed_arguments": expected,
        })
        if not agree:
            self._on_disagreement()
            log.info("policy corrected %s arguments proposed by the LLM", name)
