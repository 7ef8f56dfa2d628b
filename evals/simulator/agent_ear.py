"""The simulated caller's ears: transcribe what the agent said since the caller spoke.

A real caller hears the agent; the simulated one transcribes the agent's received audio
with the local whisper model so it can follow ``if_asked`` in audio mode.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from faster_whisper import WhisperModel

from evals.simulator.media_stream import EventCallback, MediaStreamClient
from voice_agent.pipeline.whisper_model import load_whisper, transcribe
from voice_agent.telephony.codec import SAMPLE_RATE, resample


class AgentEar:
    def __init__(self, model: WhisperModel, on_event: EventCallback | None = None) -> None:
        self._model = model
        self._on_event = on_event
        self.heard: list[str] = []

    @classmethod
    def from_models_dir(cls, models_dir: Path, on_event: EventCallback | None = None) -> AgentEar:
        from voice_agent.runtime.model_files import assemble_whisper

        model = load_whisper(assemble_whisper(models_dir), device="cpu", compute_type="int8",
                             cpu_threads=2)
        return cls(model, on_event)

    async def __call__(self, client: MediaStreamClient, since_s: float) -> str | None:
        agent = client.recording()[:, 1]
        segment = agent[int(since_s * SAMPLE_RATE):]
        if len(segment) < SAMPLE_RATE // 4:
            return None
        pcm16k = resample(segment, SAMPLE_RATE, 16_000)
        text, _ = await asyncio.to_thread(transcribe, self._model, pcm16k.tobytes())
        self.heard.append(text)
        if self._on_event:
            self._on_event("agent", text)
        return text
