"""SIGTERM mid-call: the worker drains. /readyz goes not-ready and new calls are turned away
while the call in progress goes on; at the drain deadline it is ended politely (a goodbye, a
callback kept), every turn stored, and only then does the process exit."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, select

from tests.e2e.conftest import answered_demo_call, launch_agent_server
from voice_agent.store.db import make_engine
from voice_agent.store.models import BookingIntent, Call, Turn

pytestmark = pytest.mark.slow
DEADLINE_S = 4.0


async def test_sigterm_mid_call_drains_and_ends_the_call_politely(tmp_path: Path,
                                                                  twilio_rest) -> None:
    with launch_agent_server(tmp_path / "agent", twilio_rest.url,
                             drain_deadline_s=str(DEADLINE_S)) as server:
        client, voice = await answered_demo_call(server)
        try:
            end = await client.speak(await voice.synthesize("Hi, I'd like to book a haircut."))
            assert await client.wait_agent_reply(since_s=end, silence_s=1.0)
            signalled = client.now()
            server.proc.send_signal(signal.SIGTERM)
            async with httpx.AsyncClient(base_url=server.url, timeout=5) as http:
                await asyncio.sleep(0.5)
                ready = await http.get("/readyz")
            assert ready.status_code == 503 and ready.json()["draining"] is True
            assert not client.closed.is_set(), "the call was cut off at SIGTERM"
            heard_before = client.agent_audio_seconds
            # The caller hears the goodbye at the deadline, then the server hangs up.
            await asyncio.wait_for(client.closed.wait(), timeout=DEADLINE_S + 30)
            goodbye_at = client.first_agent_audio_after(signalled + 1.0)
        finally:
            await client.stop()
        assert client.closed_by == "server"
        assert goodbye_at is not None and goodbye_at - signalled >= DEADLINE_S - 0.5
        assert client.agent_audio_seconds - heard_before > 3.0  # the whole goodbye
        await asyncio.to_thread(server.proc.wait, 30)  # TimeoutExpired: it never exited

    engine = make_engine(server.settings.db_url)
    try:
        with Session(engine) as session:
            call = session.exec(select(Call).where(
                Call.provider_call_id == client.call_sid)).one()
            turns = list(session.exec(select(Turn).where(Turn.call_id == call.id)
                                      .order_by(Turn.index)))
            callbacks = [i for i in session.exec(select(BookingIntent)).all()
                         if i.action == "callback"]
    finally:
        engine.dispose()
    assert call.end_reason == "shutdown", call.end_reason
    assert "haircut" in (turns[0].caller_text or "").lower()
    assert turns[-1].policy_events == [{"event": "shutdown"}]
    assert "end the call now" in (turns[-1].agent_text or "")
    assert [c.payload.get("service") for c in callbacks] == ["haircut"]
