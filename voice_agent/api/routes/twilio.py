"""Twilio: the signed voice webhook (TwiML) and the Media Streams WebSocket."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, WebSocket, WebSocketException, status
from fastapi.responses import Response

from voice_agent.api.deps import RuntimeDep, WsRuntimeDep
from voice_agent.api.routes.health import ACTIVE_CALLS
from voice_agent.logging_utils import mask_phone
from voice_agent.telephony.admission import AdmissionFull
from voice_agent.telephony.stream_token import stream_token, token_valid
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
    caller = params.get("From", "")[:32]
    if not runtime.admission.admit(call_sid):
        log.warning("call %s refused: %d of %d places in use", call_sid,
                    runtime.admission.in_use, runtime.admission.limit)
        return Response(hangup_twiml(s.capacity_message), media_type=TWIML)
    attestation = params.get("StirVerstat", "")[:40]  # STIR/SHAKEN, e.g. TN-Validation-Passed-A
    log.info("incoming call %s for %s from %s", call_sid, business, mask_phone(caller))
    parameters = {
        "business": business,
        "caller": caller,
        "attestation": attestation,
        "token": stream_token(s.twilio_auth_token, call_sid=call_sid, business=business,
                              caller=caller, attestation=attestation),
    }
    if now := request.query_params.get("now"):
        if s.env != "prod":  # a pinned clock is for replaying scripts, never production
            parameters["now"] = now[:40]
    twiml = connect_stream_twiml(ws_url=stream_url(url), parameters=parameters)
    return Response(twiml, media_type=TWIML)


@router.websocket("/media")
async def media_stream(websocket: WebSocket, runtime: WsRuntimeDep) -> None:
    s = runtime.settings
    await websocket.accept()
    try:
        start = await read_start(websocket)
    except StreamHandshakeError as exc:
        log.warning("media stream rejected: %s", exc)
        # A close reason over 123 bytes makes the server's close frame itself fail.
        reason = str(exc).encode()[:123].decode("utf-8", "ignore")
        raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION, reason=reason) from None
    p = start.custom_parameters
    business_name, caller = p.get("business", ""), p.get("caller", "")
    attestation = p.get("attestation", "")
    if not token_valid(s.twilio_auth_token, p.get("token"), call_sid=start.call_sid,
                       business=business_name, caller=caller, attestation=attestation):
        log.warning("media stream rejected: bad stream token for call %s", start.call_sid)
        raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION, reason="bad token")
    business = runtime.businesses[business_name]
    now = datetime.now(UTC)
    if "now" in p and s.env != "prod":
        try:
            now = datetime.fromisoformat(p["now"])
        except ValueError:
            log.warning("ignoring malformed pinned clock %r", p["now"][:40])
    try:
        with runtime.admission.call(start.call_sid):
            ACTIVE_CALLS.set(runtime.active_calls)
            await run_twilio_call(runtime.call_resources(), websocket, start,
                                  business=business, caller=caller or None, now=now,
                                  attestation=attestation or None)
    except AdmissionFull:
        log.warning("media stream for call %s refused: the worker is full", start.call_sid)
        raise WebSocketException(code=status.WS_1013_TRY_AGAIN_LATER,
                                 reason="at capacity") from None
    finally:
        ACTIVE_CALLS.set(runtime.active_calls)
