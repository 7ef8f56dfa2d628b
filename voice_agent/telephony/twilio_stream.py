"""The first messages of a Twilio Media Stream: ``connected`` then ``start``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from fastapi import WebSocket, WebSocketDisconnect

MAX_HANDSHAKE_MESSAGES = 3
MAX_HANDSHAKE_BYTES = 16 * 1024


class StreamHandshakeError(ValueError):
    """The peer did not open the stream the way Twilio does."""


@dataclass(frozen=True)
class StreamStart:
    stream_sid: str
    call_sid: str
    account_sid: str
    custom_parameters: dict[str, str] = field(default_factory=dict)


def parse_start(message: dict) -> StreamStart:
    start = message.get("start")
    if not isinstance(start, dict):
        raise StreamHandshakeError("start event without a start object")
    stream_sid = message.get("streamSid") or start.get("streamSid")
    call_sid = start.get("callSid")
    if not isinstance(stream_sid, str) or not isinstance(call_sid, str):
        raise StreamHandshakeError("start event without streamSid/callSid")
    fmt = start.get("mediaFormat") or {}
    if not isinstance(fmt, dict):
        raise StreamHandshakeError("mediaFormat must be an object")
    if fmt and (fmt.get("encoding") != "audio/x-mulaw"
                or str(fmt.get("sampleRate", 8000)) != "8000"):
        raise StreamHandshakeError(f"unsupported media format {str(fmt)[:120]}")
    params = start.get("customParameters") or {}
    if not isinstance(params, dict):
        raise StreamHandshakeError("customParameters must be an object")
    return StreamStart(
        stream_sid=stream_sid[:64],
        call_sid=call_sid[:64],
        account_sid=str(start.get("accountSid", ""))[:64],
        custom_parameters={str(k)[:64]: str(v)[:256] for k, v in list(params.items())[:20]},
    )


async def read_start(websocket: WebSocket) -> StreamStart:
    for _ in range(MAX_HANDSHAKE_MESSAGES):
        received = await websocket.receive()
        if received["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(received.get("code", 1000), received.get("reason"))
        raw = received.get("text")
        if raw is None:
            raise StreamHandshakeError("handshake message is not text")
        if len(raw) > MAX_HANDSHAKE_BYTES:
            raise StreamHandshakeError("handshake message too large")
        try:
            message = json.loads(raw)
        except (json.JSONDecodeError, RecursionError):
            raise StreamHandshakeError("handshake message is not JSON") from None
        if not isinstance(message, dict):
            raise StreamHandshakeError("handshake message is not an object")
        if message.get("event") == "start":
            return parse_start(message)
        if message.get("event") != "connected":
            event = str(message.get("event"))[:32]
            raise StreamHandshakeError(f"unexpected event {event!r} before start")
    raise StreamHandshakeError("no start event")
