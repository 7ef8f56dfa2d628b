"""The simulated caller against a real local server that plays a fake agent.

The server (uvicorn + Starlette, port 0) validates the webhook signature with twilio's
RequestValidator and answers TwiML; its WebSocket endpoint greets with 1 s of tone, answers each
caller utterance (energy, then 600 ms of silence) with 1 s of tone followed by a mark, and hangs
up once the third reply's mark comes back. Reply 1 is preceded by audio that it clears, to check
that pending marks are echoed on ``clear``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import time
import wave
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import numpy as np
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from twilio.request_validator import RequestValidator
from websockets.asyncio.client import connect

from evals.script import CallScript
from evals.simulator.caller import MediaStreamClient, SimCallerError, place_call
from evals.simulator.phone_line import parse_line
from voice_agent.telephony.codec import ulaw_decode, ulaw_encode

pytestmark = pytest.mark.slow

TOKEN = "test-auth-token"
SILENCE_FRAMES_TO_REPLY = 30  # 600 ms
LAST_MARK = "reply-2"


def _tone_ulaw(seconds: float) -> bytes:
    t = np.arange(int(8000 * seconds)) / 8000
    return ulaw_encode((8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16))


@dataclass
class FakeAgent:
    port: int = 0
    webhook_forms: list[dict[str, str]] = field(default_factory=list)
    received: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    mark_sent_at: dict[str, float] = field(default_factory=dict)
    clear_sent_at: float | None = None
    upgrade_signature: str = ""
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def voice(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        signature = request.headers.get("X-Twilio-Signature", "")
        if not RequestValidator(TOKEN).validate(str(request.url), form, signature):
            return Response("bad signature", status_code=403)
        self.webhook_forms.append(form)
        business = request.query_params["business"]
        twiml = (
            '<?xml version="1.0" encoding="UTF-8"?><Response><Connect>'
            f'<Stream url="wss://127.0.0.1:{self.port}/media">'
            f'<Parameter name="business" value="{business}"/>'
            f'<Parameter name="from" value="{form["From"]}"/>'
            "</Stream></Connect></Response>"
        )
        return Response(twiml, media_type="application/xml")

    async def media(self, ws: WebSocket) -> None:
        self.upgrade_signature = ws.headers.get("X-Twilio-Signature", "")
        if not RequestValidator(TOKEN).validate(f"wss://127.0.0.1:{self.port}/media", {},
                                                self.upgrade_signature):
            await ws.close(1008)
            return
        await ws.accept()
        sid, replies, in_speech, quiet = "", 0, False, 0
        try:
            while True:
                msg = json.loads(await ws.receive_text())
                self.received.append((time.monotonic(), msg))
                event = msg["event"]
                if event == "start":
                    sid = msg["streamSid"]
                    self._spawn(self._reply(ws, sid, "greeting", clear_first=False))
                elif event == "media":
                    pcm = ulaw_decode(base64.b64decode(msg["media"]["payload"]))
                    loud = float(np.sqrt(np.mean(pcm.astype(float) ** 2))) > 300
                    in_speech, quiet = (True, 0) if loud else (in_speech, quiet + 1)
                    if in_speech and quiet >= SILENCE_FRAMES_TO_REPLY:
                        in_speech, replies = False, replies + 1
                        name = f"reply-{replies}"
                        self._spawn(self._reply(ws, sid, name, clear_first=replies == 1))
                elif event == "mark" and msg["mark"]["name"] == LAST_MARK:
                    await ws.close()
                    return
                elif event == "stop":
                    return
        except WebSocketDisconnect:
            pass

    def _spawn(self, coro: Any) -> None:
        self.tasks.append(asyncio.create_task(coro))

    async def _reply(self, ws: WebSocket, sid: str, name: str, *, clear_first: bool) -> None:
        if clear_first:  # audio the agent then interrupts: its mark must come back on clear
            await self._send_audio(ws, sid, _tone_ulaw(1.0), "doomed")
            await asyncio.sleep(0.3)
            self.clear_sent_at = time.monotonic()
            await ws.send_text(json.dumps({"event": "clear", "streamSid": sid}))
        await self._send_audio(ws, sid, _tone_ulaw(1.0), name)

    async def _send_audio(self, ws: WebSocket, sid: str, audio: bytes, mark: str) -> None:
        for i in range(0, len(audio), 160):  # a burst, as TTS output arrives
            payload = base64.b64encode(audio[i : i + 160]).decode()
            await ws.send_text(
                json.dumps({"event": "media", "streamSid": sid, "media": {"payload": payload}})
            )
        self.mark_sent_at[mark] = time.monotonic()
        await ws.send_text(json.dumps({"event": "mark", "streamSid": sid, "mark": {"name": mark}}))
        await ws.send_text("{not json")  # malformed: the caller must log and ignore it

    def events(self) -> list[dict[str, Any]]:
        return [m for _, m in self.received]

    def mark_echoes(self) -> dict[str, float]:
        return {m["mark"]["name"]: t for t, m in self.received if m["event"] == "mark"}


@asynccontextmanager
async def serve_fake_agent() -> AsyncIterator[tuple[str, FakeAgent]]:
    agent = FakeAgent()
    app = Starlette(
        routes=[
            Route("/telephony/twilio/voice", agent.voice, methods=["POST"]),
            WebSocketRoute("/media", agent.media),
        ]
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    agent.port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:  # noqa: ASYNC110 (uvicorn offers no event for this)
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{agent.port}", agent
    finally:
        server.should_exit = True
        await task
        for t in agent.tasks:
            t.cancel()
        await asyncio.gather(*agent.tasks, return_exceptions=True)
        sock.close()


def _script() -> CallScript:
    return CallScript.model_validate(
        {
            "id": "sim-caller-test",
            "business": "demo-salon",
            "now": "2026-11-23T09:00:00-05:00",
            "caller": {
                "phone": "+15551230001",
                "turns": [{"say": "Hi, I'd like a haircut."}, {"say": "Tuesday at three."}],
            },
            "expect": {"outcome": "no_booking"},
        }
    )


async def test_call_against_fake_agent(tmp_path: Path) -> None:
    events: list[tuple[str, str]] = []
    recording = tmp_path / "call.wav"
    async with serve_fake_agent() as (url, agent):
        result = await place_call(
            server_url=url,
            script=_script(),
            auth_token=TOKEN,
            recording_path=recording,
            on_event=lambda kind, text: events.append((kind, text)),
            reply_silence_s=0.8,
            max_call_s=60,
        )

    # webhook exactly as Twilio posts it
    (form,) = agent.webhook_forms
    assert form["CallSid"] == result.call_sid and form["CallSid"].startswith("CA")
    assert form["From"] == "+15551230001" and form["To"] == "+15550001111"
    assert form["CallStatus"] == "ringing" and form["Direction"] == "inbound"

    assert agent.upgrade_signature  # the upgrade was signed over the TwiML's stream URL

    # message order: connected, start (custom parameters from TwiML), then numbered messages
    msgs = agent.events()
    assert msgs[0] == {"event": "connected", "protocol": "Call", "version": "1.0.0"}
    start = msgs[1]
    assert start["event"] == "start" and start["sequenceNumber"] == "1"
    assert start["streamSid"] == result.stream_sid == start["start"]["streamSid"]
    assert start["start"]["callSid"] == result.call_sid
    assert start["start"]["customParameters"] == {"business": "demo-salon", "from": "+15551230001"}
    assert [int(m["sequenceNumber"]) for m in msgs[1:]] == list(range(1, len(msgs)))
    media = [m for m in msgs if m["event"] == "media"]
    assert all(isinstance(m["media"]["chunk"], str) for m in media)
    assert [int(m["media"]["chunk"]) for m in media] == list(range(1, len(media) + 1))
    assert [int(m["media"]["timestamp"]) for m in media] == [20 * i for i in range(len(media))]
    assert all(m["media"]["track"] == "inbound" for m in media)

    # pacing: one frame per 20 ms of wall time
    times = [t for t, m in agent.received if m["event"] == "media"]
    expected = (times[-1] - times[0]) / 0.020 + 1
    assert abs(len(media) - expected) <= 0.1 * expected
    assert result.media_sent >= len(media)

    # marks: echoed after playback (1 s of audio sent in a burst), and at once on clear
    echoes = agent.mark_echoes()
    assert set(echoes) == {"greeting", "doomed", "reply-1", "reply-2"}
    for name in ("greeting", "reply-1", "reply-2"):
        assert 0.9 <= echoes[name] - agent.mark_sent_at[name] < 1.6, name
    assert agent.clear_sent_at is not None
    assert 0 <= echoes["doomed"] - agent.clear_sent_at < 0.2
    assert result.marks_echoed == ["greeting", "doomed", "reply-1", "reply-2"]

    # the conversation
    assert result.closed_by == "server"
    assert result.caller_lines_said == ["Hi, I'd like a haircut.", "Tuesday at three."]
    assert [t.line for t in result.turns] == result.caller_lines_said
    for turn in result.turns:
        assert turn.latency_s is not None and 0.5 < turn.latency_s < 1.2
    assert result.greeting_s is not None and result.greeting_s < 0.5
    assert 3.5 < result.agent_audio_seconds < 4.5  # 3 replies + 1 s cleared
    assert ("caller", "Tuesday at three.") in events
    assert any(kind == "warning" for kind, _ in events)  # the malformed messages
    assert not any(kind == "timeout" for kind, _ in events)

    # recording: stereo 8 kHz, caller left, agent right, aligned on the 20 ms clock
    with wave.open(str(recording), "rb") as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getsampwidth()) == (2, 8000, 2)
        assert wav.getnframes() == result.media_sent * 160
        stereo = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
    greeting = stereo[: 8000 + 8 * 160]  # the first second: agent tone, caller silent
    assert np.abs(greeting[:, 0]).max() == 0
    assert np.abs(greeting[:, 1]).max() > 5000
    assert np.abs(stereo[:, 0]).max() > 5000


async def test_dtmf_and_caller_stop() -> None:
    async with serve_fake_agent() as (_url, agent):
        signed = RequestValidator(TOKEN).compute_signature(
            f"wss://127.0.0.1:{agent.port}/media", {})
        ws = await connect(f"ws://127.0.0.1:{agent.port}/media",
                           additional_headers={"X-Twilio-Signature": signed})
        client = MediaStreamClient(
            ws,
            account_sid="AC" + "0" * 32,
            call_sid="CA" + "1" * 32,
            stream_sid="MZ" + "2" * 32,
            custom_parameters={},
        )
        await client.start()
        await asyncio.sleep(0.1)
        await client.send_dtmf("1")
        await asyncio.sleep(0.1)
        await client.stop()
        for _ in range(50):
            if agent.events()[-1]["event"] == "stop":
                break
            await asyncio.sleep(0.01)
    assert client.closed_by == "caller"
    msgs = agent.events()
    (dtmf,) = [m for m in msgs if m["event"] == "dtmf"]
    assert dtmf["dtmf"] == {"track": "inbound_track", "digit": "1"}
    assert dtmf["streamSid"] == "MZ" + "2" * 32 and isinstance(dtmf["sequenceNumber"], str)
    assert msgs[-1] == {
        "event": "stop",
        "sequenceNumber": msgs[-1]["sequenceNumber"],
        "streamSid": "MZ" + "2" * 32,
        "stop": {"accountSid": "AC" + "0" * 32, "callSid": "CA" + "1" * 32},
    }
    assert [int(m["sequenceNumber"]) for m in msgs[1:]] == list(range(1, len(msgs)))


async def test_webhook_signature_mismatch_is_an_error() -> None:
    async with serve_fake_agent() as (url, _agent):
        with pytest.raises(SimCallerError, match="returned 403"):
            await place_call(server_url=url, script=_script(), auth_token="wrong-token")


async def test_a_noisy_line_is_noisy_while_the_caller_is_silent(tmp_path: Path) -> None:
    """With line noise the phone sends the line's noise between the caller's lines, not
    digital silence (after which Silero VAD missed short answers a real line would carry)."""
    recording = tmp_path / "call.wav"
    async with serve_fake_agent() as (url, _agent):
        await place_call(server_url=url, script=_script(), auth_token=TOKEN,
                         recording_path=recording, reply_silence_s=0.8, max_call_s=60,
                         line=parse_line("band+snr15"))
    with wave.open(str(recording), "rb") as wav:
        stereo = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
    idle = stereo[160 * 5: 8000, 0].astype(np.float64)  # the greeting: the caller is silent
    assert 300 < idle.std() < 900  # about 3,000 RMS speech at 15 dB above it
