"""The prompt prefill is background work: one request, never retried (a CPU server that
timed out is still evaluating it; a retry made it evaluate the prompt twice)."""

from __future__ import annotations

import httpx
import openai

from voice_agent.dialog.llm_client import LLMClient, LLMOptions


def _client(handler: httpx.MockTransport) -> LLMClient:
    llm = openai.AsyncOpenAI(base_url="http://llm.test/v1", api_key="x", timeout=0.5,
                             max_retries=2, http_client=httpx.AsyncClient(transport=handler))
    return LLMClient(llm, LLMOptions(model="m"), tools=[])


async def test_a_prefill_that_times_out_is_not_retried_and_the_llm_is_not_down() -> None:
    requests: list[httpx.Request] = []

    def timeout(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        raise httpx.ReadTimeout("slow CPU server", request=request)

    client = _client(httpx.MockTransport(timeout))
    await client.prefill([{"role": "system", "content": "You are a receptionist."}])
    assert len(requests) == 1
    assert client.error is None  # slow is not down: the turns make their own requests


async def test_the_prefill_asks_for_one_token() -> None:
    bodies: list[bytes] = []

    def ok(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        return httpx.Response(200, json={
            "id": "c", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "finish_reason": "length",
                         "message": {"role": "assistant", "content": "I"}}]})

    client = _client(httpx.MockTransport(ok))
    await client.prefill([{"role": "system", "content": "You are a receptionist."}])
    assert len(bodies) == 1 and b'"max_tokens":1' in bodies[0].replace(b" ", b"")
