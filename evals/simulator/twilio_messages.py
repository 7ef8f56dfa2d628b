"""Twilio Media Streams wire format, caller side: pure builders and parsers, no sockets.

Messages are built exactly as Twilio sends them: every counter (``sequenceNumber``,
``media.chunk``, ``media.timestamp``) is a *string*, payloads are base64 μ-law. The server
(our agent) sends ``media``, ``mark`` and ``clear``; :func:`parse_server_message` turns those into
small dataclasses and raises :class:`MessageError` for anything else.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "MessageError",
    "ServerClear",
    "ServerMark",
    "ServerMedia",
    "ServerMessage",
    "StreamTarget",
    "build_connected",
    "build_dtmf",
    "build_mark",
    "build_media",
    "build_start",
    "build_stop",
    "new_sid",
    "parse_server_message",
    "parse_twiml_stream",
]

Message = dict[str, Any]


class MessageError(ValueError):
    """A message or TwiML document that does not follow the Media Streams format."""


def new_sid(prefix: str) -> str:
    """A Twilio-style id: two-letter prefix ("CA", "MZ", "AC") and 32 lowercase hex digits."""
    return prefix + secrets.token_hex(16)


# --- caller -> server -------------------------------------------------------------------------


def build_connected() -> Message:
    return {"event": "connected", "protocol": "Call", "version": "1.0.0"}


def build_start(
    *,
    sequence_number: int,
    account_sid: str,
    stream_sid: str,
    call_sid: str,
    custom_parameters: Mapping[str, str],
    tracks: tuple[str, ...] = ("inbound",),
) -> Message:
    return {
        "event": "start",
        "sequenceNumber": str(sequence_number),
        "start": {
            "accountSid": account_sid,
            "streamSid": stream_sid,
            "callSid": call_sid,
            "tracks": list(tracks),
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            "customParameters": dict(custom_parameters),
        },
        "streamSid": stream_sid,
    }


def build_media(
    *, sequence_number: int, stream_sid: str, chunk: int, timestamp_ms: int, payload: bytes
) -> Message:
    return {
        "event": "media",
        "sequenceNumber": str(sequence_number),
        "media": {
            "track": "inbound",
            "chunk": str(chunk),
            "timestamp": str(timestamp_ms),
            "payload": base64.b64encode(payload).decode("ascii"),
        },
        "streamSid": stream_sid,
    }


def build_mark(*, sequence_number: int, stream_sid: str, name: str) -> Message:
    return {
        "event": "mark",
        "streamSid": stream_sid,
        "sequenceNumber": str(sequence_number),
        "mark": {"name": name},
    }


def build_dtmf(*, sequence_number: int, stream_sid: str, digit: str) -> Message:
    if len(digit) != 1 or digit not in "0123456789*#ABCD":
        raise ValueError(f"not a DTMF digit: {digit!r}")
    return {
        "event": "dtmf",
        "streamSid": stream_sid,
        "sequenceNumber": str(sequence_number),
        "dtmf": {"track": "inbound_track", "digit": digit},
    }


def build_stop(
    *, sequence_number: int, stream_sid: str, account_sid: str, call_sid: str
) -> Message:
    return {
        "event": "stop",
        "sequenceNumber": str(sequence_number),
        "streamSid": stream_sid,
        "stop": {"accountSid": account_sid, "callSid": call_sid},
    }


# --- server -> caller -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServerMedia:
    payload: bytes


@dataclass(frozen=True, slots=True)
class ServerMark:
    name: str


@dataclass(frozen=True, slots=True)
class ServerClear:
    pass


ServerMessage = ServerMedia | ServerMark | ServerClear


def parse_server_message(raw: str | bytes) -> ServerMessage:
    """Parse one message the server sent on the stream; raise :class:`MessageError` if invalid."""
    try:
        msg = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MessageError(f"not JSON: {exc}") from None
    if not isinstance(msg, dict):
        raise MessageError("message is not a JSON object")
    event = msg.get("event")
    if event == "media":
        payload = _field(msg, "media", "payload")
        try:
            return ServerMedia(base64.b64decode(payload, validate=True))
        except (binascii.Error, ValueError):
            raise MessageError("media.payload is not base64") from None
    if event == "mark":
        return ServerMark(_field(msg, "mark", "name"))
    if event == "clear":
        return ServerClear()
    raise MessageError(f"unexpected event {event!r}")


def _field(msg: Message, outer: str, inner: str) -> str:
    section = msg.get(outer)
    value = section.get(inner) if isinstance(section, dict) else None
    if not isinstance(value, str):
        raise MessageError(f"{msg.get('event')}: missing string field {outer}.{inner}")
    return value


# --- TwiML -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StreamTarget:
    """Where ``<Connect><Stream>`` tells Twilio to open the media WebSocket."""

    url: str
    parameters: dict[str, str] = field(default_factory=dict)


def parse_twiml_stream(twiml: str) -> StreamTarget:
    """Extract the Stream url and its ``<Parameter>`` values from a webhook's TwiML answer."""
    try:
        root = ET.fromstring(twiml)
    except ET.ParseError as exc:
        raise MessageError(f"TwiML is not XML: {exc}") from None
    if root.tag != "Response":
        raise MessageError(f"TwiML root is <{root.tag}>, expected <Response>")
    stream = root.find("./Connect/Stream")
    if stream is None:
        raise MessageError("TwiML has no <Connect><Stream>")
    url = stream.get("url")
    if not url:
        raise MessageError("<Stream> has no url attribute")
    params: dict[str, str] = {}
    for param in stream.findall("Parameter"):
        name = param.get("name")
        if name is None:
            raise MessageError("<Parameter> has no name attribute")
        params[name] = param.get("value", "")
    return StreamTarget(url=url, parameters=params)
