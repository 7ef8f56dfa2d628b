"""The LLM sidecar dies mid-call: the caller hears an apology, the call ends cleanly, the
turns so far and a callback intent are stored, and the supervisor brings the LLM back."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time

import httpx
import pytest
from sqlmodel import Session, select

from evals.script import load_script
from evals.simulator.caller import dial
from evals.simulator.caller_voice import make_caller_voice
from tests.e2e.conftest import call_rows, sidecar_pids
from tests.e2e.test_phone_call import DEMO
from voice_agent.store.db import make_engine
from voice_agent.store.models import BookingIntent

pytestmark = pytest.mark.slow
APOLOGY = "technical difficulties"


async def test_llm_dies_mid_call(agent_server):
    script = load_script(DEMO)
    client = await dial(server_url=agent_server.url, script=script,
                        auth_token=agent_server.settings.twilio_auth_token)
    voice = make_caller_voice("piper")
    stop = asyncio.Event()
    await client.start()
    try:
        assert await client.wait_agent_reply(since_s=0.0, silence_s=1.0)
        killer = asyncio.create_task(
            _keep_killing_module(agent_server, "llama_cpp.server", stop))
        # Whichever LLM request fails first (the prompt prefill that runs during the greeting,
        # or the tool proposal of the first turn) makes the next reply the apology.
        for line in ("I'd like to book a haircut next Tuesday at 3 pm.", "Yes please, book it."):
            if client.closed.is_set():
                break
            end = await client.speak(await voice.synthesize(line))
            await client.wait_agent_reply(since_s=end, silence_s=1.0)
        await asyncio.wait_for(client.closed.wait(), 30)  # the agent hangs up
        assert client.closed_by == "server"
        heard_after = client.first_agent_audio_after(end)
        assert heard_after is not None, "the caller heard nothing after the failure"
        stop.set()
        assert await killer >= 1
    finally:
        stop.set()
        await client.stop()

    call, turns = call_rows(agent_server.settings.db_url, client.call_sid)
    assert call.status == "completed" and call.end_reason == "llm_unavailable"
    assert 1 <= len(turns) <= 2
    assert APOLOGY in turns[-1].agent_text
    assert all(t.caller_text for t in turns)
    engine = make_engine(agent_server.settings.db_url)
    try:
        with Session(engine) as session:
            intents = list(session.exec(select(BookingIntent).where(
                BookingIntent.call_id == call.id)))
    finally:
        engine.dispose()
    assert [i.action for i in intents] == ["callback"]
    assert intents[0].status == "callback"

    # The supervisor restarts the LLM; the worker becomes ready again.
    deadline = time.monotonic() + 120
    ready = False
    while time.monotonic() < deadline and not ready:
        with contextlib.suppress(httpx.HTTPError):
            async with httpx.AsyncClient(timeout=2) as http:
                ready = (await http.get(f"{agent_server.url}/readyz")).status_code == 200
        await asyncio.sleep(0.5)
    assert ready


async def test_tts_dies_mid_call(agent_server):
    """Piper crash-loops while the agent must answer: once it is back the caller hears an
    apology, the call ends cleanly and the turn is stored."""
    script = load_script(DEMO)
    client = await dial(server_url=agent_server.url, script=script,
                        auth_token=agent_server.settings.twilio_auth_token)
    voice = make_caller_voice("piper")
    line = await voice.synthesize("I'd like to book a haircut.")
    stop = asyncio.Event()
    await client.start()
    try:
        assert await client.wait_agent_reply(since_s=0.0, silence_s=1.0)
        killer = asyncio.create_task(_keep_killing_module(agent_server, "piper.http_server", stop))
        end = await client.speak(line)
        await asyncio.sleep(4.0)  # the reply's synthesis fails while Piper is down
        stop.set()
        assert await killer >= 1
        await asyncio.wait_for(client.closed.wait(), 60)
        assert client.closed_by == "server"
        assert client.first_agent_audio_after(end) is not None, "no apology was heard"
    finally:
        stop.set()
        await client.stop()
    call, turns = call_rows(agent_server.settings.db_url, client.call_sid)
    assert call.status == "completed" and call.end_reason == "tts_unavailable"
    assert len(turns) == 1 and turns[0].caller_text


async def _keep_killing_module(server, module: str, stop: asyncio.Event) -> int:
    """A crash loop: kill the sidecar (and each restart of it) until told to stop."""
    kills = 0
    while not stop.is_set():
        for pid in sidecar_pids(server, module):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                kills += 1
        await asyncio.sleep(0.1)
    return kills
