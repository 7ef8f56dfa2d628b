"""The Media Streams WebSocket handshake: anything unlike Twilio is closed with 1008.

A valid start would run a real pipeline (models, sidecars); the e2e tests cover it.
"""

from __future__ import annotations

import asyncio
import json

import pytest
import uvicorn
import websockets
from starlette.websockets import WebSocketDisconnect

from voice_agent.runtime.sidecars import free_port
from voice_agent.telephony.stream_token import stream_token

WS = "/telephony/twilio/media"
CALL_SID = "CA0123456789abcdef0123456789abcdef"
CALLER = "+14155550123"
CONNECTED = json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})


def start(*, token: str | None = "valid", stream_sid: str | None = "MZ0123", call_sid: str | None
          = CALL_SID, media_format: object = None, **params: str) -> str:
    parameters = {"business": "demo-salon", "caller": CALLER, **params}
    if token == "valid":
        parameters["token"] = stream_token("test-token", call_sid=CALL_SID,
                                           business="demo-salon", caller=CALLER)
    elif token is not None:
        parameters["token"] = token
    body: dict[str, object] = {"accountSid": "AC0", "tracks": ["inbound"],
                               "customParameters": parameters,
                               "mediaFormat": media_format or {"encoding": "audio/x-mulaw",
                                                               "sampleRate": 8000,
                                                               "channels": 1}}
    if call_sid is not None:
        body["callSid"] = call_sid
    message: dict[str, object] = {"event": "start", "sequenceNumber": "1", "start": body}
    if stream_sid is not None:
        message["streamSid"] = stream_sid
    return json.dumps(message)


def assert_rejected(client, *messages: str | bytes) -> None:
    with client.websocket_connect(WS) as ws:
        for message in messages:
            if isinstance(message, bytes):
                ws.send_bytes(message)
            else:
                ws.send_text(message)
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_text()
    assert info.value.code == 1008


@pytest.mark.parametrize(
    "messages",
    [
        pytest.param(["not json"], id="not-json"),
        pytest.param(["[1, 2, 3]"], id="json-array"),
        pytest.param(["[" * 10_000], id="deeply-nested-json"),
        pytest.param([json.dumps({"event": "connected", "pad": "x" * 17_000})], id="oversized"),
        pytest.param([json.dumps({"event": "media", "media": {"payload": ""}})],
                     id="media-before-start"),
        pytest.param([CONNECTED, json.dumps({"event": "stop"})], id="stop-before-start"),
        pytest.param([CONNECTED, CONNECTED, CONNECTED], id="no-start"),
        pytest.param([b"\x00\x01binary"], id="binary-frame"),
        pytest.param([CONNECTED, json.dumps({"event": "start", "streamSid": "MZ1"})],
                     id="start-without-start-object"),
        pytest.param([CONNECTED, start(stream_sid=None)], id="start-without-streamSid"),
        pytest.param([CONNECTED, start(call_sid=None)], id="start-without-callSid"),
        pytest.param([start(media_format={"encoding": "audio/l16", "sampleRate": 8000})],
                     id="format-l16"),
        pytest.param([start(media_format={"encoding": "audio/x-mulaw", "sampleRate": 16000})],
                     id="format-16k"),
        pytest.param([start(media_format={"encoding": "audio/x-mulaw", "sampleRate": "fast"})],
                     id="format-bad-rate"),
        pytest.param([start(media_format={"encoding": "audio/x-mulaw", "sampleRate": [8000]})],
                     id="format-rate-list"),
        pytest.param([start(media_format="audio/x-mulaw")], id="format-not-object"),
        pytest.param([CONNECTED, start(token=None)], id="missing-token"),
        pytest.param([CONNECTED, start(token="0" * 64)], id="wrong-token"),
        pytest.param([CONNECTED, start(token="é" * 64)], id="non-ascii-token"),
        pytest.param([CONNECTED, start(caller="+14155550100")], id="token-other-caller"),
        pytest.param([CONNECTED, start(business="demo-dental")], id="token-other-business"),
    ],
)
def test_bad_handshake_is_closed_with_policy_violation(make_client, messages) -> None:
    with make_client() as client:
        assert_rejected(client, *messages)
        assert client.runtime.active_calls == 0


def test_token_is_bound_to_the_call_sid(make_client) -> None:
    other = json.loads(start())
    other["start"]["callSid"] = "CAffffffffffffffffffffffffffffffff"
    with make_client() as client:
        assert_rejected(client, CONNECTED, json.dumps(other))


def test_token_signed_with_another_secret_is_rejected(make_client) -> None:
    forged = stream_token("dev-twilio-auth-token", call_sid=CALL_SID, business="demo-salon",
                          caller=CALLER)
    with make_client() as client:
        assert_rejected(client, CONNECTED, start(token=forged))


@pytest.mark.parametrize(
    "message",
    [
        pytest.param(json.dumps({"event": "x" * 300}), id="long-event"),
        pytest.param(start(media_format={"encoding": "é" * 200, "sampleRate": 8000}),
                     id="long-non-ascii-format"),
    ],
)
async def test_rejection_over_a_real_server_closes_with_1008(make_client, message) -> None:
    """The close reason must fit a WebSocket control frame (123 bytes), or the close itself
    fails in uvicorn and the peer sees the connection drop without a code."""
    app = make_client().app
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error",
                                           lifespan="on"))
    serving = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            for _ in range(500):  # uvicorn exposes a flag, not an event
                if server.started:
                    break
                await asyncio.sleep(0.02)
            async with websockets.connect(f"ws://127.0.0.1:{port}{WS}") as ws:
                await ws.send(message)
                with pytest.raises(websockets.ConnectionClosed) as info:
                    await ws.recv()
        assert info.value.rcvd is not None
        assert info.value.rcvd.code == 1008
        assert len(info.value.rcvd.reason.encode()) <= 123
    finally:
        server.should_exit = True
        await serving
