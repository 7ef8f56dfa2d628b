"""A real phone call, end to end: the simulated Twilio caller phones the real server
(faster-whisper, Silero VAD, the llama.cpp LLM sidecar, the Piper sidecar) and books."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import wave

import pytest
from rich.console import Console

from evals.phone_call import run_scripted_call
from evals.script import load_script
from evals.simulator.caller import dial
from evals.simulator.caller_voice import make_caller_voice
from tests.e2e.conftest import assert_demo_call_stored, call_rows
from voice_agent.config import REPO_ROOT
from voice_agent.store.db import make_engine

pytestmark = pytest.mark.slow
DEMO = REPO_ROOT / "evals" / "calls" / "demo" / "salon-book-basic.yaml"


async def test_demo_call_books_and_stores_every_turn(agent_server, twilio_rest, tmp_path):
    engine = make_engine(agent_server.settings.db_url)
    try:
        call = await run_scripted_call(
            script_path=DEMO, server_url=agent_server.url, settings=agent_server.settings,
            engine=engine, recording=tmp_path / "caller.wav", console=Console(quiet=True),
        )
    finally:
        engine.dispose()

    # The booking (or, the name not borne out, the review item) and one turn row per caller
    # turn, each with its texts, prompt hash and every stage stamped; here also its confidence.
    row, turns = assert_demo_call_stored(agent_server.settings.db_url, call)
    assert row.outcome == call.outcome_text
    for turn in turns:
        assert turn.stt_avg_logprob is not None and turn.stt_no_speech_prob is not None
    booked = [t for t in turns if any(c["name"] == "book_appointment" and
                                      c["status"] == "executed" for c in t.tool_calls)]
    assert len(booked) == (0 if call.outcome_text == "pending_review" else 1)

    # The call's recording: both sides, 8 kHz stereo, as long as the call.
    with wave.open(row.recording_path, "rb") as wav:
        assert (wav.getnchannels(), wav.getframerate()) == (2, 8000)
        assert wav.getnframes() / 8000 > 10
    assert (tmp_path / "caller.wav").stat().st_size > 0

    # The agent hung up through (our stand-in for) Twilio's REST API.
    hangups = [r for r in twilio_rest.requests if call.result.call_sid in r["path"]]
    assert hangups and hangups[0]["form"] == {"Status": "completed"}
    account = agent_server.settings.twilio_account_sid
    assert hangups[0]["path"].startswith(f"/2010-04-01/Accounts/{account}/Calls/")
    assert hangups[0]["auth"].startswith("Basic ")


async def test_malformed_and_oversized_messages_are_dropped(agent_server):
    script = load_script(DEMO)
    client = await dial(server_url=agent_server.url, script=script,
                        auth_token=agent_server.settings.twilio_auth_token)
    await client.start()
    try:
        assert await client.wait_agent_reply(since_s=0.0, silence_s=1.0)
        ws = client._ws  # the raw socket, to misbehave on purpose
        garbage = [
            "this is not json",
            json.dumps(["an", "array"]),
            json.dumps({"event": "media", "media": {"payload": "@@not base64@@"}}),
            json.dumps({"event": "media", "media": {}}),
            json.dumps({"event": "media", "media": {
                "payload": base64.b64encode(b"\xff" * 20_000).decode()}}),
            json.dumps({"event": "unheard-of"}),
            "x" * 100_000,
        ]
        for message in garbage:
            await ws.send(message)
        voice = make_caller_voice("piper")
        end = await client.speak(await voice.synthesize("Hi, I'd like to book a haircut."))
        assert await client.wait_agent_reply(since_s=end, silence_s=1.0), "call did not go on"
        assert not client.closed.is_set()
    finally:
        await client.stop()
    await asyncio.sleep(1.0)
    log_text = agent_server.log_path.read_text()
    assert log_text.count("dropped Twilio message") >= 6


async def _first_audio_after(client, t_s: float, timeout_s: float = 30.0) -> float:
    deadline = time.monotonic() + timeout_s
    while (first := client.first_agent_audio_after(t_s)) is None:
        assert time.monotonic() < deadline, "the agent did not reply"
        await asyncio.sleep(0.02)
    return first


async def test_barge_in_clears_the_agent_and_the_turn_keeps_what_was_heard(agent_server):
    """The caller talks over the agent's reply: the server sends ``clear``, the turn row says
    the reply was cut short and holds only the sentences whose marks came back; an "Okay."
    under the next reply neither cuts it nor becomes a turn."""
    voice = make_caller_voice("piper")
    # Synthesised before the call: made while the agent replies, on a busy box, the line
    # meant for its first sentence started seconds late, after the reply had ended (and
    # before the call: the server wants the stream's start event soon after it connects).
    lines = [await voice.synthesize(text) for text in (
        "Hi, I'd like to book a haircut.", "Next Tuesday at 3 pm.",
        "Yes that works for me and the name for the booking is Dana Smith", "Okay.")]
    script = load_script(DEMO)
    events: list[tuple[str, str]] = []
    client = await dial(server_url=agent_server.url, script=script,
                        auth_token=agent_server.settings.twilio_auth_token,
                        on_event=lambda kind, text: events.append((kind, text)))
    await client.start()
    try:
        assert await client.wait_agent_reply(since_s=0.0, silence_s=1.0)
        end = await client.speak(lines[0])
        assert await client.wait_agent_reply(since_s=end, silence_s=1.0)
        end = await client.speak(lines[1])
        # "3 PM on Tuesday, December 1 is free for a haircut. Can I have your name ...?"
        await _first_audio_after(client, end)
        await asyncio.sleep(1.0)  # into the first sentence, then three seconds of speech
        end = await client.speak(lines[2])
        assert await client.wait_agent_reply(since_s=end, silence_s=1.0)
        assert any(kind == "clear" for kind, _ in events), events
        clears = sum(kind == "clear" for kind, _ in events)
        # A backchannel under the next reply: no clear, no turn.
        next_reply = await _first_audio_after(client, end)
        await asyncio.sleep(max(0.0, next_reply - client.now()) + 0.8)
        await client.speak(lines[3])
        assert await client.wait_agent_reply(since_s=end, silence_s=1.5)
        assert sum(kind == "clear" for kind, _ in events) == clears
        assert client.marks_echoed, "the server sent no marks"
    finally:
        await client.stop()
    _row, turns = call_rows(agent_server.settings.db_url, client.call_sid)
    cut = [t for t in turns if t.agent_interrupted]
    assert len(cut) == 1 and cut[0].index == 1, [(t.index, t.agent_interrupted) for t in turns]
    assert cut[0].agent_text_heard is not None
    assert len(cut[0].agent_text_heard) < len(cut[0].agent_text)
    assert "Can I have your name" not in cut[0].agent_text_heard
    # What was said over the reply became the next turn: its words outside the name (whisper's
    # hearing of the name itself varies: "Dana Smith", "day in a smith", "day and is spent";
    # the name check is elsewhere).
    last = [t.caller_text for t in turns][-1].lower()
    assert "works for me" in last and "booking" in last, last
