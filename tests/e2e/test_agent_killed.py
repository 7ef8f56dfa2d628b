"""The agent process killed (SIGKILL) mid-call: the turns up to the last complete one are in
the database, and after a restart on the same database the reconciler finishes what was
left, never booking twice."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
from sqlmodel import Session, select

from connectors.builtin import BuiltinCalendar
from connectors.schedule import load_business
from evals.script import load_script
from tests.e2e.conftest import DEMO_SCRIPT, answered_demo_call, launch_agent_server
from voice_agent.config import DEFAULT_BUSINESSES_DIR
from voice_agent.store.db import make_engine
from voice_agent.store.models import BookingIntent, Call, Turn

pytestmark = pytest.mark.slow


async def _call_until_the_yes(server, kill_after_s: float) -> str:
    """Phone the server, give what a booking needs, say yes, and SIGKILL the server
    ``kill_after_s`` seconds after the yes has been said."""
    client, voice = await answered_demo_call(server)
    try:
        for line in ("I'd like to book a haircut next Tuesday at 3 pm.", "Dana Smith.",
                     "D, A, N, A, then S, M, I, T, H.", "The number I'm calling from is fine."):
            end = await client.speak(await voice.synthesize(line))
            assert await client.wait_agent_reply(since_s=end, silence_s=1.0), line
        await client.speak(await voice.synthesize("Yes, please book it."))
        await asyncio.sleep(kill_after_s)
        server.proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(client.closed.wait(), 10)
    finally:
        await client.stop()
    return client.call_sid


async def test_a_killed_agent_loses_no_complete_turn_and_never_books_twice(
        tmp_path: Path, twilio_rest) -> None:
    data = tmp_path / "agent"
    with launch_agent_server(data, twilio_rest.url) as server:
        call_sid = await _call_until_the_yes(server, kill_after_s=1.5)
        server.proc.wait(10)
    engine = make_engine(server.settings.db_url)
    try:
        with Session(engine) as session:
            call = session.exec(select(Call).where(Call.provider_call_id == call_sid)).one()
            turns = list(session.exec(select(Turn).where(Turn.call_id == call.id)))
        # Every turn answered before the kill is stored, with what the caller said.
        assert len(turns) >= 4 and all(t.caller_text and t.agent_text for t in turns[:4])

        # Restarted on the same database, the reconciler picks up whatever was left.
        with launch_agent_server(data, twilio_rest.url, reconcile_interval_s="1"):
            await asyncio.sleep(5)
        with Session(engine) as session:
            intents = list(session.exec(select(BookingIntent).where(
                BookingIntent.call_id == call.id, BookingIntent.action == "book")))
        assert all(i.status not in ("pending", "reconciling") for i in intents), [
            (i.status, i.error) for i in intents]
        calendar = BuiltinCalendar(
            business=load_business(DEFAULT_BUSINESSES_DIR / "demo-salon.yaml"), engine=engine)
        caller = load_script(DEMO_SCRIPT).caller.phone
        booked = [b for b in await calendar.find_bookings(phone=caller) if b.start.hour == 15]
        assert len(booked) <= 1, booked  # never twice (once if the yes was taken before the kill)
        assert len(booked) == len([i for i in intents if i.status == "done"])
    finally:
        engine.dispose()
