"""A small pipecat application behind the real SIP server, for the SIP/RTP tests: it plays a
greeting into the call, records what the caller sends (audio and keys) and, when asked, hangs up
after the greeting. The production pipeline (models) is exercised by tests/e2e/test_sip_call.py.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from pipecat.audio.dtmf.types import KeypadEntry
from pipecat.frames.frames import (
    EndWorkerFrame,
    Frame,
    InputAudioRawFrame,
    InputDTMFFrame,
    OutputAudioRawFrame,
    OutputDTMFFrame,
    StartFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.workers.runner import WorkerRunner

from connectors.schedule import load_businesses
from voice_agent.config import DEFAULT_BUSINESSES_DIR
from voice_agent.pipeline.call import CallLeg
from voice_agent.telephony.admission import Admission
from voice_agent.telephony.sip.media import RtpSession
from voice_agent.telephony.sip.pipecat_transport import SipCallTransport
from voice_agent.telephony.sip.server import SipServer, SipServerOptions


@dataclass
class CallRecord:
    leg: CallLeg
    audio: bytearray = field(default_factory=bytearray)  # 8 kHz int16 from the caller
    keys: list[str] = field(default_factory=list)
    ended_by: str | None = None
    greeting_sent: bool = False
    media: RtpSession | None = None  # the call's RTP session (jitter and loss stats)


class _Recorder(FrameProcessor):
    def __init__(self, record: CallRecord) -> None:
        super().__init__()
        self.record = record

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame):
            self.record.audio.extend(frame.audio)
            return
        if isinstance(frame, InputDTMFFrame):
            self.record.keys.append(str(frame.button.value))
            return
        await self.push_frame(frame, direction)


class _Greeter(FrameProcessor):
    def __init__(self, record: CallRecord, greeting: np.ndarray, hang_up: bool,
                 dtmf: str = "", transfer: bool = False) -> None:
        super().__init__()
        self.record, self.greeting, self.hang_up = record, greeting, hang_up
        self.dtmf, self.transfer = dtmf, transfer

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
        if isinstance(frame, StartFrame):
            await self.push_frame(OutputAudioRawFrame(
                audio=self.greeting.astype(np.int16).tobytes(), sample_rate=8000,
                num_channels=1))
            self.record.greeting_sent = True
            if self.dtmf:
                await self.push_frame(OutputDTMFFrame(buttons=[KeypadEntry(k) for k in self.dtmf]))
            if self.transfer and self.record.leg.transfer is not None:
                self.record.leg.transfer()  # what the dialog does when a human is asked for
            if self.hang_up:
                self.create_task(self._end_after(len(self.greeting) / 8000 + 0.3))

    async def _end_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await self.push_frame(EndWorkerFrame(), FrameDirection.UPSTREAM)


@dataclass
class TestApp:
    server: SipServer
    calls: list[CallRecord]

    @property
    def port(self) -> int:
        return self.server.port


def tone(seconds: float, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(8000 * seconds)) / 8000
    return (8000 * np.sin(2 * np.pi * hz * t)).astype(np.int16)


@contextlib.asynccontextmanager
async def sip_test_app(*, greeting: np.ndarray | None = None, hang_up: bool = False,
                       capacity: int = 50, dtmf: str = "", transfer: bool = False,
                       **options: object) -> AsyncIterator[TestApp]:
    calls: list[CallRecord] = []
    audio = tone(1.0) if greeting is None else greeting

    async def handler(transport: SipCallTransport, leg: CallLeg) -> None:
        record = CallRecord(leg=leg, media=transport.media)
        calls.append(record)
        greeter = _Greeter(record, audio, hang_up, dtmf, transfer)
        pipeline = Pipeline([transport.input(), _Recorder(record), greeter, transport.output()])
        worker = PipelineWorker(pipeline, params=PipelineParams(
            audio_in_sample_rate=8000, audio_out_sample_rate=8000), enable_rtvi=False,
            idle_timeout_secs=60)

        @transport.event_handler("on_client_disconnected")
        async def _gone(_t: object, _c: object) -> None:
            record.ended_by = "caller"
            await worker.cancel()

        runner = WorkerRunner(handle_sigint=False)
        await runner.add_workers(worker)
        await runner.run()
        record.ended_by = record.ended_by or "agent"

    opts = {"host": "127.0.0.1", "port": 0, "rtp_ports": (31000, 31999)} | options
    server = SipServer(SipServerOptions(**opts),  # type: ignore[arg-type]
                       handler=handler, businesses=load_businesses(DEFAULT_BUSINESSES_DIR),
                       admission=Admission(capacity), now=lambda: datetime.now(UTC))
    await server.start()
    try:
        yield TestApp(server, calls)
    finally:
        await server.stop()
