"""Hypothesis: the Media Streams serializer and the start handshake on hostile messages.

``SafeTwilioFrameSerializer.deserialize`` must never raise (pipecat's receive loop would end
the call) and returns None or a frame; ``read_start`` raises only ``StreamHandshakeError``
(or the WebSocket's own disconnect), never KeyError/TypeError.
"""

from __future__ import annotations

import asyncio
import base64
import json
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import WebSocketDisconnect
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pipecat.frames.frames import Frame

from voice_agent.telephony.twilio_serializer import SafeTwilioFrameSerializer
from voice_agent.telephony.twilio_stream import StreamHandshakeError, StreamStart, read_start

SID = "MZ0123456789abcdef0123456789abcdef"
EVENTS = ["connected", "start", "media", "mark", "dtmf", "stop", "clear", "", None]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=4),
    max_leaves=12,
)
b64ish = st.one_of(
    st.binary(max_size=400).map(lambda b: base64.b64encode(b).decode()),
    st.text(alphabet="ABCDEFabcdef0123456789+/=-_ \n", max_size=60),
    st.builds(lambda n: base64.b64encode(b"\xff" * n).decode(), st.integers(7_990, 9_000)),
)


@st.composite
def twilio_like(draw: Any) -> dict[str, Any]:
    """Messages shaped like Twilio's, with any field of any type (or missing)."""
    msg: dict[str, Any] = {"event": draw(st.sampled_from(EVENTS) | json_values)}
    if draw(st.booleans()):
        msg["streamSid"] = draw(st.just(SID) | json_values)
    for key, inner in (
        ("media", st.fixed_dictionaries({}, optional={
            "payload": b64ish | json_values, "track": st.sampled_from(
                ["inbound", "outbound", None]) | json_values,
            "chunk": json_values, "timestamp": json_values})),
        ("mark", st.fixed_dictionaries({}, optional={"name": st.text(max_size=80) | json_values})),
        ("dtmf", st.fixed_dictionaries({}, optional={"digit": st.text(max_size=3) | json_values,
                                                     "track": json_values})),
        ("start", st.fixed_dictionaries({}, optional={
            "streamSid": st.just(SID) | json_values, "callSid": st.text(max_size=70) | json_values,
            "accountSid": json_values, "customParameters": json_values,
            "mediaFormat": st.fixed_dictionaries({}, optional={
                "encoding": st.sampled_from(["audio/x-mulaw", "audio/l16"]) | json_values,
                "sampleRate": st.sampled_from([8000, "8000", 16000]) | json_values,
                "channels": json_values}) | json_values})),
    ):
        if draw(st.booleans()):
            msg[key] = draw(inner | json_values)
    return msg


def _dump(msg: Any) -> str:
    return json.dumps(msg)


wire = st.one_of(
    twilio_like().map(_dump),
    json_values.map(_dump),
    st.text(max_size=200),
    st.binary(max_size=200),
    st.builds(lambda n, c: c * n, st.integers(60_000, 70_000), st.sampled_from(["{", "a", "["])),
    st.integers(1, 3_000).map(lambda depth: "[" * depth + "]" * depth),
)

CASES = {"deserialize": 0, "read_start": 0}


def _serializer() -> SafeTwilioFrameSerializer:
    ser = SafeTwilioFrameSerializer(
        SID, call_sid="CA1", params=SafeTwilioFrameSerializer.InputParams(auto_hang_up=False))
    asyncio.run(ser.setup(SimpleNamespace(audio_in_sample_rate=16_000)))  # type: ignore[arg-type]
    return ser


SER = _serializer()


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=wire)
@example(data='{"event": "media", "media": {"payload": "////", "track": ["in"]}}')
@example(data='{"event": "dtmf", "dtmf": 5}')
@example(data='{"event": "dtmf", "dtmf": {"digit": ["1"]}}')
@example(data='{"event": "mark", "mark": {"name": 7}}')
@example(data=b"\xff\xfe{}")
def test_deserialize_never_raises(data: str | bytes) -> None:
    CASES["deserialize"] += 1
    frame = asyncio.run(SER.deserialize(data))
    assert frame is None or isinstance(frame, Frame)


class _Socket:
    """The two methods of Starlette's WebSocket that read_start uses."""

    def __init__(self, messages: list[dict[str, Any]]) -> None:
        self._messages = list(messages)

    async def receive(self) -> dict[str, Any]:
        if not self._messages:
            return {"type": "websocket.disconnect", "code": 1000}
        return self._messages.pop(0)


asgi_message = st.one_of(
    wire.map(lambda d: {"type": "websocket.receive", "text": d} if isinstance(d, str)
             else {"type": "websocket.receive", "bytes": d}),
    st.just({"type": "websocket.receive", "text": json.dumps({"event": "connected"})}),
    st.just({"type": "websocket.disconnect", "code": 1006}),
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages=st.lists(asgi_message, min_size=1, max_size=4))
@example(messages=[{"type": "websocket.receive", "text": '{"event":"start","start":{}}'}])
@example(messages=[{"type": "websocket.receive",
                    "text": '{"event":"start","start":{"callSid":"CA1","streamSid":"MZ",'
                            '"customParameters":[1]}}'}])
def test_read_start_raises_only_handshake_errors(messages: list[dict[str, Any]]) -> None:
    CASES["read_start"] += 1
    try:
        start = asyncio.run(read_start(_Socket(messages)))  # type: ignore[arg-type]
    except (StreamHandshakeError, WebSocketDisconnect):
        return
    assert isinstance(start, StreamStart)
    assert isinstance(start.call_sid, str) and isinstance(start.stream_sid, str)
    assert all(isinstance(k, str) and isinstance(v, str)
               for k, v in start.custom_parameters.items())


@pytest.fixture(scope="module", autouse=True)
def _report_counts():
    yield
    print(f"\nfuzz cases: {CASES}")
