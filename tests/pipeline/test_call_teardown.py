"""Nothing of a call outlives it: the dialog processor's background tasks are cancelled and
awaited at the end of the call, and the recording goes to disk as it is made."""

from __future__ import annotations

import asyncio
import wave
from dataclasses import dataclass
from pathlib import Path

import httpx
from pipecat.frames.frames import (
    CancelFrame,
    TranscriptionFrame,
    TTSSpeakFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.tests.utils import SleepFrame, run_test
from sqlmodel import Session, select

from tests.dialog.test_manager import FakeLLM, rig
from voice_agent.pipeline.dialog_processor import DialogProcessor
from voice_agent.pipeline.recording import StreamingWav
from voice_agent.pipeline.turn_clock import TurnClock
from voice_agent.store.calls import CallStore
from voice_agent.store.models import Call


@dataclass
class HangingPrefill(FakeLLM):
    """An LLM server that never answers the prompt prefill (a stuck or overloaded server):
    the prefill task would wait forever."""

    started: int = 0
    cancelled: int = 0

    async def handler(self, request: httpx.Request) -> httpx.Response:  # type: ignore[override]
        if b'"max_tokens":1' in request.content.replace(b" ", b""):
            self.started += 1
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
        return FakeLLM.handler(self, request)


def speak(line: str) -> list:
    # 3 s for the reply and the prefill to start: 1 s was not always enough on a 2-core box
    # busy with other work (the test failed once while three other jobs shared the cores).
    return [VADUserStartedSpeakingFrame(), SleepFrame(0.05), VADUserStoppedSpeakingFrame(),
            SleepFrame(0.05), TranscriptionFrame(line, "caller", "now"), SleepFrame(3.0)]


async def _run(tmp_path: Path, *, cancel: bool) -> None:
    llm = HangingPrefill()
    async with rig(tmp_path, llm=llm) as r:
        with Session(r.store) as session:
            call_id = session.exec(select(Call)).one().id
        processor = DialogProcessor(manager=r.manager, store=CallStore(r.store),
                                    call_id=call_id, clock=TurnClock(vad_stop_secs=0.2),
                                    prompt_hash="x")
        frames = speak("I'd like a haircut next Tuesday at 3 pm.")
        if cancel:  # the caller hangs up: the worker is cancelled
            down, _ = await run_test(processor, frames_to_send=[*frames, CancelFrame()],
                                     send_end_frame=False)
        else:
            down, _ = await run_test(processor, frames_to_send=frames)
        assert any(isinstance(f, TTSSpeakFrame) for f in down)  # the call did go on
        assert llm.started == 1 and llm.cancelled == 1  # the stuck prefill was cancelled
        assert not processor._tasks  # ... and awaited: nothing of the call is left running


async def test_background_tasks_are_cancelled_at_the_end_frame(tmp_path: Path) -> None:
    await _run(tmp_path, cancel=False)


async def test_background_tasks_are_cancelled_when_the_call_is_cancelled(tmp_path: Path
                                                                         ) -> None:
    await _run(tmp_path, cancel=True)


def test_the_recording_is_a_valid_wav_while_it_is_written(tmp_path: Path) -> None:
    path = tmp_path / "rec" / "call.wav"
    writer = StreamingWav(path, sample_rate=8000)
    second = bytes(range(256)) * 125  # 32,000 bytes: one second of 16-bit stereo at 8 kHz
    for written in range(1, 4):
        writer.write(second)
        with wave.open(str(path), "rb") as wav:  # readable mid-call (after a crash, too)
            assert (wav.getnchannels(), wav.getframerate()) == (2, 8000)
            assert wav.getnframes() == written * 8000
    writer.write(second[:400])  # the last, partial, second at hang-up
    writer.close()
    writer.close()  # idempotent
    with wave.open(str(path), "rb") as wav:
        assert wav.getnframes() == 3 * 8000 + 100
        assert wav.readframes(8000) == second
    assert writer.bytes_written == 3 * len(second) + 400
