"""A pipecat transport over one SIP call's RTP session, so that ``run_call`` runs a SIP call
exactly as it runs a Twilio one.

In: every 20 ms frame the jitter buffer plays (8 kHz) is resampled to the pipeline's 16 kHz
and pushed as ``InputAudioRawFrame``; RFC 4733 keys become ``InputDTMFFrame``. Out: audio is
encoded and queued on the RTP clock, ``write_audio_frame`` waiting while 60 ms are queued, so
pipecat runs at the pace of the wire; a barge-in drops what is queued. A Twilio-style ``mark``
(``pipeline/played_marks.py``) comes back as soon as the audio before it has been sent, which
on RTP is when the caller hears it. ``EndFrame`` hangs up (BYE), or transfers (REFER) when a
transfer was asked for; the caller's BYE fires ``on_client_disconnected``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import numpy as np
from pipecat.audio.dtmf.types import KeypadEntry
from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    Frame,
    InputAudioRawFrame,
    InputDTMFFrame,
    InputTransportMessageFrame,
    InterruptionFrame,
    OutputAudioRawFrame,
    OutputDTMFFrame,
    OutputDTMFUrgentFrame,
    OutputTransportMessageFrame,
    OutputTransportMessageUrgentFrame,
    StartFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.transports.base_input import BaseInputTransport
from pipecat.transports.base_output import BaseOutputTransport
from pipecat.transports.base_transport import BaseTransport, TransportParams

from voice_agent.telephony.codec import SAMPLE_RATE, Int16Array, StreamResampler
from voice_agent.telephony.sip.media import RtpSession

__all__ = ["SipCallTransport"]

log = logging.getLogger(__name__)


class _SipInput(BaseInputTransport):
    def __init__(self, owner: SipCallTransport, params: TransportParams) -> None:
        super().__init__(params, name="SipInput")
        self._owner = owner
        self._resampler: StreamResampler | None = None
        self._pending: list[Frame] = []
        self._running = False

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        self._resampler = StreamResampler(SAMPLE_RATE, self.sample_rate)
        self._running = True
        self._owner.media.attach(self._on_audio, self._on_dtmf)
        await self.set_transport_ready(frame)
        await self._owner.connected()

    async def stop(self, frame: EndFrame) -> None:
        self._running = False
        await super().stop(frame)

    async def cancel(self, frame: CancelFrame) -> None:
        self._running = False
        await super().cancel(frame)

    def _on_audio(self, pcm: Int16Array) -> None:
        if not self._running or self._resampler is None:
            return
        if self.sample_rate != SAMPLE_RATE:
            pcm = self._resampler.process(pcm)
        if pcm.size:
            frame = InputAudioRawFrame(audio=pcm.astype(np.int16).tobytes(),
                                       sample_rate=self.sample_rate, num_channels=1)
            self._owner.spawn(self.push_audio_frame(frame))

    def _on_dtmf(self, key: str) -> None:
        if self._running:
            self._owner.spawn(self.push_frame(InputDTMFFrame(KeypadEntry(key))))


class _SipOutput(BaseOutputTransport):
    def __init__(self, owner: SipCallTransport, params: TransportParams) -> None:
        super().__init__(params, name="SipOutput")
        self._owner = owner

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        await self.set_transport_ready(frame)

    async def stop(self, frame: EndFrame) -> None:
        await super().stop(frame)
        await self._owner.end()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InterruptionFrame):
            self._owner.media.clear()

    async def write_audio_frame(self, frame: OutputAudioRawFrame) -> bool:
        media = self._owner.media
        if media.closed:
            return False
        pcm = np.frombuffer(frame.audio, dtype=np.int16)
        if frame.sample_rate != SAMPLE_RATE:  # the pipeline's output rate is 8 kHz already
            log.warning("SIP output got %d Hz audio; dropped", frame.sample_rate)
            return False
        media.enqueue(pcm)
        await media.wait_room()
        return True

    async def send_message(
        self, frame: OutputTransportMessageFrame | OutputTransportMessageUrgentFrame
    ) -> None:
        message = frame.message
        if isinstance(message, dict) and message.get("event") == "mark":
            # The audio before the mark is on the wire (at most 60 ms still queued).
            await self.push_frame(InputTransportMessageFrame(message={
                "event": "mark", "mark": message.get("mark")}), FrameDirection.UPSTREAM)

    def _supports_native_dtmf(self) -> bool:
        return self._owner.media.offer.dtmf_payload_type is not None

    async def _write_dtmf_native(self, frame: OutputDTMFFrame | OutputDTMFUrgentFrame) -> None:
        for button in frame.buttons or []:
            self._owner.media.send_dtmf(str(button.value))


class SipCallTransport(BaseTransport):
    """Events: ``on_client_connected(transport, call_id)``,
    ``on_client_disconnected(transport, call_id)``."""

    def __init__(self, *, media: RtpSession, call_id: str, hang_up: Callable[[], None],
                 transfer: Callable[[], Awaitable[bool]] | None = None,
                 caller_gone: asyncio.Event | None = None) -> None:
        super().__init__()
        self.media = media
        self.call_id = call_id
        self._hang_up = hang_up
        self.transfer_requested = False
        self._transfer = transfer
        self._tasks: set[asyncio.Task[None]] = set()
        params = TransportParams(audio_in_enabled=True, audio_out_enabled=True,
                                 audio_in_sample_rate=None, audio_out_sample_rate=SAMPLE_RATE)
        self._input = _SipInput(self, params)
        self._output = _SipOutput(self, params)
        self._ended = False
        self._register_event_handler("on_client_connected")
        self._register_event_handler("on_client_disconnected")

    def input(self) -> _SipInput:
        return self._input

    def output(self) -> _SipOutput:
        return self._output

    def spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def connected(self) -> None:
        await self._call_event_handler("on_client_connected", self.call_id)

    async def caller_hung_up(self) -> None:
        """The call ended on the caller's side (BYE, CANCEL, no ACK): not after our own BYE."""
        if self._ended:
            return
        self._ended = True
        await self._call_event_handler("on_client_disconnected", self.call_id)

    async def end(self) -> None:
        """The pipeline ended (EndFrame): hand the caller over, or hang up."""
        if self._ended:
            return
        self._ended = True
        if self.transfer_requested and self._transfer is not None:
            try:
                if await self._transfer():
                    self._hang_up()
                    return
            except Exception:
                log.exception("SIP transfer of %s failed", self.call_id[:24])
        self._hang_up()
