"""A Twilio Media Streams call: the WebSocket transport and its serializer, then the pipeline.

Telephony owns the wire (the hardened Twilio serializer, hang-up and transfer through Twilio's
REST API); the per-call pipecat pipeline is the same for every way a call can arrive.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import WebSocket
from pipecat.transports.websocket.fastapi import (
    FastAPIWebsocketParams,
    FastAPIWebsocketTransport,
)

from connectors.schedule import Business
from voice_agent.pipeline.call import CallLeg, CallResources, run_call
from voice_agent.pipeline.dialog_processor import CallOutcome
from voice_agent.telephony.twilio_serializer import SafeTwilioFrameSerializer
from voice_agent.telephony.twilio_stream import StreamStart


async def run_twilio_call(
    resources: CallResources,
    websocket: WebSocket,
    start: StreamStart,
    *,
    business: Business,
    caller: str | None,
    now: datetime,
    attestation: str | None = None,
) -> CallOutcome:
    s = resources.settings
    serializer = SafeTwilioFrameSerializer(
        start.stream_sid, call_sid=start.call_sid, account_sid=s.twilio_account_sid,
        auth_token=s.twilio_auth_token, base_url=s.twilio_api_base_url,
        params=SafeTwilioFrameSerializer.InputParams(auto_hang_up=s.twilio_hang_up),
        max_message_bytes=s.max_ws_message_bytes,
    )
    transport = FastAPIWebsocketTransport(
        websocket=websocket,
        params=FastAPIWebsocketParams(
            audio_in_enabled=True, audio_out_enabled=True, add_wav_header=False,
            serializer=serializer, session_timeout=s.max_call_seconds,
        ),
    )
    transfer = None
    if s.transfer_number and s.twilio_hang_up:  # a <Dial> needs Twilio's REST API

        def transfer() -> None:
            serializer.transfer_to = s.transfer_number

    leg = CallLeg(provider="twilio", provider_call_id=start.call_sid,
                  stream_id=start.stream_sid, caller=caller, business=business, now=now,
                  transfer=transfer, attestation=attestation)
    return await run_call(resources, transport, leg)
