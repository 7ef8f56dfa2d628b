"""pipecat's Twilio serializer, hardened for hostile input.

pipecat's receive loop stops the whole call on the first exception a serializer raises, so
every malformed, oversized or unexpected message is logged and dropped here instead: the
call continues. ``stop`` ends the pipeline cleanly.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging

import httpx
from pipecat.frames.frames import EndFrame, Frame, InputTransportMessageFrame
from pipecat.serializers.twilio import TwilioFrameSerializer

log = logging.getLogger(__name__)
MAX_MEDIA_PAYLOAD_BYTES = 8_000  # 1 s of μ-law; Twilio sends 160-byte (20 ms) chunks


class SafeTwilioFrameSerializer(TwilioFrameSerializer):
    """Also: when ``transfer_to`` is set before the call ends, the end of the stream
    redirects the call to that number (REST call update with ``<Dial>``) instead of hanging
    up, so "let me pass you to a colleague" is what really happens."""

    def __init__(self, *args, max_message_bytes: int = 64 * 1024, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._max_message_bytes = max_message_bytes
        self.dropped = 0
        self.transfer_to: str | None = None

    async def _hang_up_call(self) -> None:
        if self.transfer_to is None:
            await super()._hang_up_call()
            return
        from pipecat.serializers.twilio import _build_call_resource_url
        from twilio.twiml.voice_response import VoiceResponse

        twiml = VoiceResponse()
        twiml.dial(self.transfer_to)
        url = _build_call_resource_url(
            self._account_sid or "", self._call_sid or "", base_url=self._base_url,
            region=self._region, edge=self._edge,
        )
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                resp = await client.post(url, data={"Twiml": str(twiml)},
                                         auth=(self._account_sid or "", self._auth_token or ""))
            if resp.status_code >= 300:
                log.error("Twilio transfer failed: HTTP %d", resp.status_code)
        except httpx.HTTPError as exc:
            log.error("Twilio transfer failed: %s", type(exc).__name__)

    def _drop(self, why: str) -> None:
        self.dropped += 1
        if self.dropped <= 20 or self.dropped % 100 == 0:
            log.warning("dropped Twilio message (%s); %d dropped so far", why, self.dropped)

    async def deserialize(self, data: str | bytes) -> Frame | None:
        if len(data) > self._max_message_bytes:
            self._drop(f"oversized: {len(data)} bytes")
            return None
        try:
            message = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            self._drop("not JSON")
            return None
        if not isinstance(message, dict):
            self._drop("not an object")
            return None
        event = message.get("event")
        if event == "media":
            media = message.get("media")
            payload = media.get("payload") if isinstance(media, dict) else None
            if not isinstance(payload, str):
                self._drop("media without payload")
                return None
            try:
                raw = base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError):
                self._drop("media payload is not base64")
                return None
            if len(raw) > MAX_MEDIA_PAYLOAD_BYTES:
                self._drop("media payload too large")
                return None
            if isinstance(media, dict) and media.get("track") not in (None, "inbound"):
                return None
        elif event == "stop":
            log.info("Twilio stream stopped by the caller side")
            return EndFrame()
        elif event == "mark":  # an echo: that audio has been played (pipeline/played_marks.py)
            mark = message.get("mark")
            if not isinstance(mark, dict) or not isinstance(mark.get("name"), str) or len(
                    mark["name"]) > 64:
                self._drop("mark without a name")
                return None
            return InputTransportMessageFrame(message={"event": "mark",
                                                       "mark": {"name": mark["name"]}})
        elif event in ("connected", "start"):
            return None
        elif event != "dtmf":
            self._drop(f"unknown event {str(event)[:20]!r}")
            return None
        try:
            return await super().deserialize(data)
        except Exception as exc:  # the receive loop must survive anything
            self._drop(f"{type(exc).__name__}")
            return None
