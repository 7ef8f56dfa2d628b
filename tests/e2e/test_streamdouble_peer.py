"""An independent peer: PyPI ``streamdouble`` (a Twilio Media Streams simulator with its own
protocol checker and mark echo) places a scripted call on the real server and finds no
protocol violation; the server sends marks, streamdouble echoes them, and talking over the
agent's greeting gets a ``clear``; the answer to what was said over it follows.

streamdouble speaks the Media Streams protocol but not the webhook, nor Twilio's signature on
the WebSocket upgrade; the test plays that part (the signed webhook gives the one-time stream
URL, and the upgrade carries the signature Twilio would send).
"""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import pytest
import streamdouble.session as sd_session
from streamdouble.metrics import compute
from streamdouble.protocol import StreamIdentity
from streamdouble.scenario import parse
from streamdouble.session import Session, SessionConfig
from twilio.request_validator import RequestValidator

from evals.script import load_script
from evals.simulator import twilio_messages as tm
from evals.simulator.caller import _local_ws_url, _post_webhook
from evals.simulator.caller_voice import make_caller_voice
from voice_agent.config import REPO_ROOT

pytestmark = pytest.mark.slow
DEMO = REPO_ROOT / "evals" / "calls" / "demo" / "salon-book-basic.yaml"


def _wav(path: Path, pcm8k: Any) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(pcm8k.astype("<i2").tobytes())
    return path


async def test_streamdouble_sees_no_violation_marks_echoed_and_a_clear_on_barge_in(
        agent_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    voice = make_caller_voice("piper")
    hello = _wav(tmp_path / "hello.wav", await voice.synthesize(
        "Hi there, sorry to interrupt, I would like to book a haircut please."))
    scenario = parse({"name": "talk over the greeting, then wait for the answer", "steps": [
        {"wait_for": {"event": "audio", "timeout": 20}},  # the greeting has begun
        {"wait": 0.8},
        {"say": str(hello)},                               # three seconds over the greeting
        {"expect": "clear"},
        {"wait": 3.0},
        # The answer's first mark ("Sure, a haircut. What day ...?"): on a slow CPU, with the
        # prompt prefill sharing the cores, it comes well after the 3 s; then its end.
        {"wait_for": {"event": "mark", "timeout": 30}},
        {"wait_for": {"event": "quiet", "timeout": 30}},
        {"expect": "mark"},
        {"expect": "no_violations"},
        {"hangup": None},
    ]}, base_dir=tmp_path)

    script = load_script(DEMO)
    token = agent_server.settings.twilio_auth_token
    call_sid = tm.new_sid("CA")
    target = await _post_webhook(agent_server.url, script, token, tm.new_sid("AC"), call_sid)
    signature = RequestValidator(token).compute_signature(target.url, {})
    connect = sd_session.websockets.connect

    def signed_connect(url: str, **kwargs: Any) -> Any:  # what Twilio adds to the upgrade
        return connect(url, additional_headers={"X-Twilio-Signature": signature}, **kwargs)

    monkeypatch.setattr(sd_session.websockets, "connect", signed_connect)
    session = Session(_local_ws_url(target.url, agent_server.url), scenario=scenario,
                      config=SessionConfig(quiet_period_s=1.5, max_drain_s=30,
                                           custom_parameters=target.parameters),
                      identity=StreamIdentity(call_sid=call_sid))
    result = await session.run()
    metrics = compute(result)
    assert list(result.violations) == [], result.violations
    assert result.audio_received, "the agent never spoke"
    assert metrics.marks_received >= 1 and metrics.marks_echoed >= 1, metrics
    assert metrics.clears_received >= 1, metrics
    assert result.failed_expectations == [], result.expectations
    assert metrics.audio_received_ms > 3000, "the greeting and an answer were heard"
