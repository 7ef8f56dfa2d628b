"""pipecat's Piper HTTP TTS, stamping the first audio of each reply on the turn clock, and
playing the sentences every call says from the worker's :class:`PhraseCache`."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from pipecat.frames.frames import Frame, TTSAudioRawFrame
from pipecat.services.piper.tts import PiperHttpTTSService

from voice_agent.pipeline.phrase_cache import PhraseCache, synthesize
from voice_agent.pipeline.turn_clock import TurnClock


class TimedPiperHttpTTSService(PiperHttpTTSService):
    def __init__(self, *, clock: TurnClock, phrases: PhraseCache | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._clock = clock
        self._phrases = phrases

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame, None]:
        wav = await self._fixed_phrase(text)
        if wav is None:
            frames = super().run_tts(text, context_id)
        else:
            await self.start_tts_usage_metrics(text)
            frames = self._stream_audio_frames_from_iterator(
                _chunks(wav, self.chunk_size), strip_wav_header=True, context_id=context_id)
        async for frame in frames:
            if isinstance(frame, TTSAudioRawFrame):
                await self.stop_ttfb_metrics()
                self._clock.mark_tts_audio()
            yield frame

    async def _fixed_phrase(self, text: str) -> bytes | None:
        """A fixed sentence's audio: from the cache, or synthesised now and kept."""
        cache = self._phrases
        if cache is None or not cache.is_fixed(text):
            return None
        voice = self._settings.voice
        wav = cache.get(voice, text)
        if wav is None:
            wav = await synthesize(self._session, self._base_url, voice, text)
            if wav is not None:
                cache.put(voice, text, wav)
        return wav


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i:i + size]
