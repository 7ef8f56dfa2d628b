"""pipecat's Piper HTTP TTS, stamping the first audio of each reply on the turn clock."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from pipecat.frames.frames import Frame, TTSAudioRawFrame
from pipecat.services.piper.tts import PiperHttpTTSService

from voice_agent.pipeline.turn_clock import TurnClock


class TimedPiperHttpTTSService(PiperHttpTTSService):
    def __init__(self, *, clock: TurnClock, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._clock = clock

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame, None]:
        async for frame in super().run_tts(text, context_id):
            if isinstance(frame, TTSAudioRawFrame):
                self._clock.mark_tts_audio()
            yield frame
