"""The Media Streams WebSocket: the one-time token from the webhook and Twilio's signature are
checked before the socket is accepted (a refusal is an HTTP 403 to the peer); after it, anything
unlike Twilio is closed with 1008.

Tokens are obtained the way Twilio obtains them: through the real, signed webhook. A valid start
would run a real pipeline (models, sidecars); the e2e tests cover it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import httpx
import pytest
import websockets
from starlette.websockets import WebSocketDisconnect
from twilio.request_validator import RequestValidator

from tests.api.real_server import real_server
from voice_agent.config import DEV_TWILIO_TOKEN
from voice_agent.telephony.stream_token import StreamTokens

WS = "/telephony/twilio/media"
WEBHOOK = "/telephony/twilio/voice?business=demo-salon"
AUTH = "test-token"
CALL_SID = "CA0123456789abcdef0123456789abcdef"
CALLER = "+14155550123"
CONNECTED = json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})


def ring(client, base: str = "http://testserver", call_sid: str = CALL_SID) -> str:
    """POST the signed webhook as Twilio does; the stream URL from its TwiML."""
    form = {"CallSid": call_sid, "AccountSid": "AC0", "From": CALLER, "To": "+14155550999",
            "CallStatus": "ringing"}
    url = base + WEBHOOK
    signature = RequestValidator(AUTH).compute_signature(url, form)
    resp = client.post(url, data=form, headers={"X-Twilio-Signature": signature})
    assert resp.status_code == 200, resp.text
    stream = ET.fromstring(resp.text).find("./Connect/Stream")
    assert stream is not None, resp.text
    return stream.get("url")


def signed(url: str, token: str = AUTH) -> dict[str, str]:
    """The upgrade request's header: Twilio signs the stream URL (no parameters: a GET)."""
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, {})}


def start(*, stream_sid: str | None = "MZ0123", call_sid: str | None = CALL_SID,
          media_format: object = None) -> str:
    body: dict[str, object] = {"accountSid": "AC0", "tracks": ["inbound"],
                               "customParameters": {},
                               "mediaFormat": media_format or {"encoding": "audio/x-mulaw",
                                                               "sampleRate": 8000,
                                                               "channels": 1}}
    if call_sid is not None:
        body["callSid"] = call_sid
    message: dict[str, object] = {"event": "start", "sequenceNumber": "1", "start": body}
    if stream_sid is not None:
        message["streamSid"] = stream_sid
    return json.dumps(message)


def assert_refused_before_accept(client, path: str, headers: dict[str, str] | None = None
                                 ) -> WebSocketDisconnect:
    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect(
            path, headers=headers or {}):
        pytest.fail("the socket was accepted")
    return info.value


def assert_closed_after(client, url: str, *messages: str | bytes) -> None:
    with client.websocket_connect(urlsplit(url).path, headers=signed(url)) as ws:
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
        pytest.param([CONNECTED, start(call_sid="CAffffffffffffffffffffffffffffffff")],
                     id="start-for-another-call"),
    ],
)
def test_bad_handshake_is_closed_with_policy_violation(make_client, messages) -> None:
    with make_client() as client:
        assert_closed_after(client, ring(client), *messages)
        assert client.runtime.active_calls == 0


def test_an_unknown_token_is_refused_before_accept(make_client) -> None:
    with make_client() as client:
        url = ring(client)
        other = url.rsplit("/", 1)[0] + "/" + "A" * 43
        refused = assert_refused_before_accept(client, urlsplit(other).path, signed(other))
    assert refused.code == 1008 and "token" in refused.reason


def test_no_token_no_stream(make_client) -> None:
    with make_client() as client:
        ring(client)
        assert_refused_before_accept(client, WS)


def test_a_token_is_single_use(make_client) -> None:
    with make_client() as client:
        url = ring(client)
        assert_closed_after(client, url, CONNECTED, json.dumps({"event": "stop"}))
        refused = assert_refused_before_accept(client, urlsplit(url).path, signed(url))
    assert "token" in refused.reason


def test_a_token_expires(make_client) -> None:
    now = [0.0]
    with make_client() as client:
        client.runtime._stream_tokens = StreamTokens(ttl_s=30, clock=lambda: now[0])
        url = ring(client)
        now[0] += 30.0
        refused = assert_refused_before_accept(client, urlsplit(url).path, signed(url))
    assert "expired" in refused.reason


def test_a_token_forged_offline_from_the_dev_secret_is_refused(make_client) -> None:
    """The old token was HMAC(auth token, call fields): computable by anyone who knew the
    (public, default) token. Now it is only a key into what the webhook stored."""
    forged = hmac.new(DEV_TWILIO_TOKEN.encode(), f"{CALL_SID}|demo-salon|{CALLER}|".encode(),
                      hashlib.sha256).hexdigest()
    url = f"ws://testserver{WS}/{forged}"
    with make_client() as client:
        assert_refused_before_accept(client, urlsplit(url).path, signed(url))


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda url: {}, id="missing"),
        pytest.param(lambda url: {"X-Twilio-Signature": ""}, id="empty"),
        pytest.param(lambda url: signed(url, "another-token"), id="other-auth-token"),
        pytest.param(lambda url: signed(url.replace("ws://", "wss://")), id="other-url"),
        pytest.param(lambda url: {"X-Twilio-Signature": RequestValidator(AUTH)
                                  .compute_signature(url, {"CallSid": CALL_SID})},
                     id="signed-with-params"),
    ],
)
def test_the_upgrade_needs_twilios_signature_over_the_stream_url(make_client, headers) -> None:
    with make_client() as client:
        url = ring(client)
        refused = assert_refused_before_accept(client, urlsplit(url).path, headers(url))
        assert refused.reason == "invalid signature"
        # a refused upgrade does not burn the token: Twilio's own connection still works
        assert client.runtime.stream_tokens.peek(url.rsplit("/", 1)[-1]) is not None


def test_the_signature_is_over_the_public_url_behind_a_proxy(make_client) -> None:
    with make_client(public_url="https://agent.example.com") as client:
        url = ring(client, base="https://agent.example.com")
        assert url.startswith("wss://agent.example.com/")
        internal = "ws://testserver" + urlsplit(url).path
        assert_refused_before_accept(client, urlsplit(url).path, signed(internal))
        assert_closed_after(client, url, CONNECTED, json.dumps({"event": "stop"}))


def test_a_grant_for_an_unknown_business_is_a_clean_refusal(make_client) -> None:
    with make_client() as client:
        url = ring(client)
        del client.runtime.businesses["demo-salon"]  # e.g. removed from the YAML since
        refused = assert_refused_before_accept(client, urlsplit(url).path, signed(url))
    assert refused.reason == "unknown business"


def test_no_stream_while_not_ready(make_client) -> None:
    with make_client() as client:
        url = ring(client)
        client.runtime.ready = False
        refused = assert_refused_before_accept(client, urlsplit(url).path, signed(url))
    assert refused.reason == "not ready"


def test_a_socket_that_sends_no_start_is_closed(make_client) -> None:
    with make_client(stream_handshake_timeout_s=0.3) as client:
        url = ring(client)
        t0 = time.monotonic()
        with client.websocket_connect(urlsplit(url).path, headers=signed(url)) as ws:
            ws.send_text(CONNECTED)
            with pytest.raises(WebSocketDisconnect) as info:
                ws.receive_text()
        assert info.value.code == 1008 and info.value.reason == "no start event in time"
        assert time.monotonic() - t0 < 5


async def ring_over_http(host: str) -> str:
    form = {"CallSid": CALL_SID, "From": CALLER, "To": "+14155550999"}
    url = f"http://{host}{WEBHOOK}"
    headers = {"X-Twilio-Signature": RequestValidator(AUTH).compute_signature(url, form)}
    async with httpx.AsyncClient() as http:
        resp = await http.post(url, data=form, headers=headers)
    return ET.fromstring(resp.text).find("./Connect/Stream").get("url")


@pytest.mark.parametrize("case", ["unknown-token", "no-signature", "replayed", "no-token"])
async def test_a_refusal_over_a_real_server_is_http_403_without_accepting(make_client,
                                                                          case) -> None:
    async with real_server(make_client().app) as host:
        url = await ring_over_http(host)
        headers = signed(url)
        if case == "unknown-token":
            url = url.rsplit("/", 1)[0] + "/" + "B" * 43
            headers = signed(url)
        elif case == "no-signature":
            headers = {}
        elif case == "no-token":
            url = f"ws://{host}{WS}"
        elif case == "replayed":
            async with websockets.connect(url, additional_headers=headers) as ws:
                await ws.send(json.dumps({"event": "stop"}))
                with pytest.raises(websockets.ConnectionClosed):
                    await ws.recv()
        with pytest.raises(websockets.InvalidStatus) as info:
            async with websockets.connect(url, additional_headers=headers):
                pass
    assert info.value.response.status_code == 403


async def test_an_idle_socket_is_closed_after_the_handshake_timeout(make_client) -> None:
    async with real_server(make_client(stream_handshake_timeout_s=0.5).app) as host:
        url = await ring_over_http(host)
        t0 = time.monotonic()
        async with websockets.connect(url, additional_headers=signed(url)) as ws:
            with pytest.raises(websockets.ConnectionClosed) as info:
                await asyncio.wait_for(ws.recv(), timeout=10)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1008
    assert 0.4 < time.monotonic() - t0 < 5


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
    async with real_server(make_client().app) as host:
        url = await ring_over_http(host)
        async with websockets.connect(url, additional_headers=signed(url)) as ws:
            await ws.send(message)
            with pytest.raises(websockets.ConnectionClosed) as info:
                await ws.recv()
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 1008
    assert len(info.value.rcvd.reason.encode()) <= 123
