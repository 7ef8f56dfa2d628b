"""Twilio voice webhook: signature validation and the TwiML that opens a Media Stream."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Connect, VoiceResponse

MAX_WEBHOOK_BODY_BYTES = 16 * 1024


def public_url(request_url: str, configured_base: str | None) -> str:
    """The URL Twilio signed: the configured public base (behind a proxy) or the request's."""
    if not configured_base:
        return request_url
    base = urlsplit(configured_base)
    req = urlsplit(request_url)
    return urlunsplit((base.scheme, base.netloc, req.path, req.query, ""))


def signature_valid(
    *, auth_token: str, url: str, params: Mapping[str, str], signature: str | None
) -> bool:
    if not signature:
        return False
    return bool(RequestValidator(auth_token).validate(url, dict(params), signature))


def stream_url(webhook_url: str, path: str = "/telephony/twilio/media") -> str:
    parts = urlsplit(webhook_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def connect_stream_twiml(*, ws_url: str, parameters: Mapping[str, str]) -> str:
    response = VoiceResponse()
    connect = Connect()
    stream = connect.stream(url=ws_url)
    for name, value in parameters.items():
        stream.parameter(name=name, value=value)
    response.append(connect)
    return str(response)


def hangup_twiml(message: str) -> str:
    response = VoiceResponse()
    response.say(message)
    response.hangup()
    return str(response)
