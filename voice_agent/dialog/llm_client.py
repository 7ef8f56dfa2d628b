"""The dialog's LLM client: one OpenAI-compatible server (vLLM in production, the embedded
llama.cpp server on a CPU box), reached with the call's byte-identical prompt and tools.

A server that is down (or answers 5xx) marks the LLM unavailable for the rest of the call;
a slow *background* request only fails itself (slow is not down). Tool proposals the policy
does not wait for run in the background and report when they land.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import openai

from voice_agent.dialog import tools as T

__all__ = ["LLMClient", "LLMOptions", "LLMUnavailableError"]

log = logging.getLogger(__name__)


class LLMUnavailableError(RuntimeError):
    """The LLM server did not answer (down, timing out, or returning errors)."""


@dataclass
class LLMOptions:
    model: str
    max_tokens: int = 160
    temperature: float = 0.0
    # A free reply the caller waits for in silence gets this long; then the policy's own
    # clarifying question is said (on a CPU a 0.5B model took 30 s and a retry once).
    reply_budget_s: float = 8.0


class LLMClient:
    def __init__(self, llm: openai.AsyncOpenAI, options: LLMOptions,
                 tools: list[dict[str, Any]]) -> None:
        self.llm = llm
        self.options = options
        self.tools = tools
        self.error: str | None = None  # set once the server is known to be down
        self._background: set[asyncio.Task[None]] = set()

    async def prefill(self, messages: list[dict[str, Any]]) -> None:
        """Have the server evaluate the prompt prefix while the greeting plays. Never
        retried: a prefill that timed out is still being evaluated by a CPU server, and a
        retry evaluated it a second time while the caller spoke (a 1,354-token prompt took
        27 s on the 2-core box under an audio call; the retry took the cores 30 s more)."""
        try:
            await self.llm.with_options(max_retries=0).chat.completions.create(
                model=self.options.model, messages=messages, tools=self.tools,
                max_tokens=1, temperature=0,
            )
        except openai.APITimeoutError:
            # Slow is not down (a busy CPU server): the turns make their own requests.
            log.warning("prompt prefill timed out; the first turn will evaluate the prompt")
        except openai.OpenAIError as exc:
            log.warning("prompt prefill failed: %s", type(exc).__name__)
            self.error = f"prefill failed: {type(exc).__name__}"

    async def chat(self, messages: list[dict[str, Any]], tool_choice: Any, *,
                   background: bool = False) -> tuple[Any, float]:
        """One chat completion: the message and the seconds it took."""
        t0 = time.time()
        try:
            resp = await self.llm.chat.completions.create(
                model=self.options.model, messages=messages, tools=self.tools,
                tool_choice=tool_choice, temperature=self.options.temperature,
                max_tokens=self.options.max_tokens,
            )
        except (openai.APIConnectionError, openai.APITimeoutError, openai.APIStatusError) as exc:
            log.error("LLM request failed: %s", type(exc).__name__)
            if not (background and isinstance(exc, openai.APITimeoutError)):
                self.error = type(exc).__name__
            raise LLMUnavailableError(str(exc)) from None
        return resp.choices[0].message, time.time() - t0

    @staticmethod
    def calls_of(message: Any) -> list[T.ToolCall]:
        """The tool calls of a reply: native ``tool_calls``, or JSON written in the text."""
        calls = []
        for i, tc in enumerate(message.tool_calls or []):
            try:
                args = T.parse_arguments(tc.function.arguments)
            except T.ToolError:
                args = {"_unparsed": (tc.function.arguments or "")[:200]}
            calls.append(T.ToolCall(tc.function.name, args, id=tc.id or f"call_{i}"))
        return calls or T.tool_calls_from_content(message.content)

    def in_background(self, work: Callable[[], Any]) -> None:
        """Run ``work()`` (a coroutine function) without holding up the reply."""
        task = asyncio.create_task(work())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def settle(self, timeout_s: float = 60.0) -> None:
        """Wait for background requests so what they report lands with its turn."""
        if self._background:
            await asyncio.wait(set(self._background), timeout=timeout_s)
