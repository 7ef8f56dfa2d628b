"""Twilio: the signed voice webhook (TwiML) and the Media Streams WebSocket."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, WebSocket, WebSocketException, status
from fastapi.responses import Response

from connectors.schedule import Business
from voice_agent.api.deps import RuntimeDep, WsRuntimeDep
from voice_agent.api.routes.health import ACTIVE_CALLS
from voice_agent.logging_utils import mask_phone
from voice_agent.runtime.container import Runtime
from voice_agent.telephony.admission import AdmissionFull
from voice_agent.telephony.stream_token import StreamGrant
from voice_agent.telephony.twilio_call import run_twilio_call
from voice_agent.telephony.twilio_stream import StreamHandshakeError, read_start
from voice_agent.telephony.twilio_webhook import (
    MAX_WEBHOOK_BODY_BYTES,
    connect_stream_twiml,
    hangup_twiml,
    public_url,
    signature_valid,
    stream_url,
)

log = logging.getLogger(__name__)
router = APIRouter(prefix="/telephony/twilio", tags=["telephony"])
TWIML = "application/xml"
MEDIA_PATH = "/telephony/twilio/media"


@router.post("/voice")
async def voice_webhook(request: Request, runtime: RuntimeDep) -> Response:
    """Twilio calls this when a call comes in; answer with a Media Stream to ourselves."""
    s = runtime.settings
    body = await request.body()
    if len(body) > MAX_WEBHOOK_BODY_BYTES:
        log.warning("twilio webhook rejected: body too large (%d bytes)", len(body))
        return Response("request too large", status_code=413)
    params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    url = public_url(str(request.url), s.public_url)
    if not signature_valid(auth_token=s.twilio_auth_token, url=url, params=params,
                           signature=request.headers.get("X-Twilio-Signature")):
        log.warning("twilio webhook rejected: bad or missing X-Twilio-Signature")
        return Response("invalid signature", status_code=403)
    business = request.query_params.get("business") or s.default_business
    if business not in runtime.businesses:
        log.warning("twilio webhook for unknown business %r", business[:40])
        return Response(hangup_twiml("Sorry, this number is not configured."), media_type=TWIML)
    if not runtime.ready:
        return Response(hangup_twiml("Sorry, we cannot take your call right now."),
                        media_type=TWIML)
    call_sid = params.get("CallSid", "")[:64]
    if not call_sid:
        log.warning("twilio webhook without a CallSid")
        return Response(hangup_twiml("Sorry, we cannot take your call right now."),
                        media_type=TWIML)
    caller = params.get("From", "")[:32]
    if runtime.draining:  # shutting down: the load balancer sends new calls elsewhere
        log.warning("call %s refused: the worker is draining", call_sid)
        return Response(hangup_twiml(s.capacity_message), media_type=TWIML)
    if not runtime.admission.admit(call_sid):
        log.warning("call %s refused: %d of %d places in use", call_sid,
                    runtime.admission.in_use, runtime.admission.limit)
        return Response(hangup_twiml(s.capacity_message), media_type=TWIML)
    attestation = params.get("StirVerstat", "")[:40]  # STIR/SHAKEN, e.g. TN-Validation-Passed-A
    log.info("incoming call %s for %s from %s", call_sid, business, mask_phone(caller))
    grant = runtime.stream_tokens.issue(
        call_sid=call_sid, business=business, caller=caller, attestation=attestation,
        now=_pinned_clock(request.query_params.get("now"), s.env),
        url_for=lambda token: stream_url(url, path=f"{MEDIA_PATH}/{token}"),
    )
    return Response(connect_stream_twiml(ws_url=grant.url, parameters={}), media_type=TWIML)


def _pinned_clock(value: str | None, env: str) -> datetime | None:
    """A script's pinned ``now`` (replays); never honoured in production."""
    if not value or env == "prod":
        return None
    try:
        return datetime.fromisoformat(value[:40])
    except ValueError:
        log.warning("ignoring malformed pinned clock %r", value[:40])
        return None


def _refuse(reason: str) -> WebSocketException:
    """Before accept this is an HTTP 403 to the peer; after, a 1008 close."""
    # A close reason over 123 bytes makes the server's close frame itself fail.
    reason = reason.encode()[:123].decode("utf-8", "ignore")
    return WebSocketException(code=status.WS_1008_POLICY_VIOLATION, reason=reason)


@router.websocket("/media/{token}")
async def media_stream(websocket: WebSocket, token: str, runtime: WsRuntimeDep) -> None:
    """A Twilio Media Stream. Everything is checked before the socket is accepted: the
    one-time token from the webhook's TwiML, Twilio's signature over the stream URL, the
    business; then ``start`` must come within the handshake timeout, for the same call."""
    s = runtime.settings
    grant = runtime.stream_tokens.peek(token)
    if grant is None:
        log.warning("media stream refused: unknown, used or expired stream token")
        raise _refuse("unknown or expired stream token")
    if not signature_valid(auth_token=s.twilio_auth_token, url=grant.url, params={},
                           signature=websocket.headers.get("X-Twilio-Signature")):
        log.warning("media stream refused: bad or missing X-Twilio-Signature (call %s)",
                    grant.call_sid)
        raise _refuse("invalid signature")
    runtime.stream_tokens.redeem(token)  # single use: from here on, a replay finds nothing
    business = runtime.businesses.get(grant.business)
    if business is None:
        log.warning("media stream refused: unknown business %r", grant.business[:40])
        raise _refuse("unknown business")
    if not runtime.ready:
        raise _refuse("not ready")
    try:
        runtime.admission.take(grant.call_sid)  # its place is held until it hangs up
    except AdmissionFull:
        log.warning("media stream for call %s refused: the worker is full", grant.call_sid)
        raise WebSocketException(code=status.WS_1013_TRY_AGAIN_LATER,
                                 reason="at capacity") from None
    try:
        await _run_stream(websocket, grant, business, runtime)
    finally:
        runtime.admission.release(grant.call_sid)
        ACTIVE_CALLS.set(runtime.active_calls)


async def _run_stream(websocket: WebSocket, grant: StreamGrant, business: Business,
                      runtime: Runtime) -> None:
    s = runtime.settings
    await websocket.accept()
    try:
        async with asyncio.timeout(s.stream_handshake_timeout_s):
            start = await read_start(websocket)
    except TimeoutError:
        log.warning("media stream closed: no start within %.0f s", s.stream_handshake_timeout_s)
        raise _refuse("no start event in time") from None
    except StreamHandshakeError as exc:
        log.warning("media stream rejected: %s", exc)
        raise _refuse(str(exc)) from None
    if start.call_sid != grant.call_sid:
        log.warning("media stream rejected: start is for call %s, token for %s",
                    start.call_sid, grant.call_sid)
        raise _refuse("stream token is for another call")
    now = grant.now or datetime.now(UTC)
    ACTIVE_CALLS.set(runtime.active_calls)
    await run_twilio_call(runtime.call_resources(), websocket, start, business=business,
                          caller=grant.caller or None, now=now,
                          attestation=grant.attestation or None)
