"""pipecat's Piper HTTP TTS, stamping the first audio of each reply on the turn clock, and
playing the sentences every call says from the worker's :class:`PhraseCache`.

A sentence that opens with a short clause ("I'm sorry, I don't have anything then.") is
synthesised in two requests, the clause first (``replies.lead_clause``): its audio, usually
from the cache, starts playing while Piper synthesises the rest. The sentence stays one
utterance (one ``mark``), so what the caller heard is still counted in whole sentences."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from pipecat.frames.frames import Frame, TTSAudioRawFrame
from pipecat.services.piper.tts import PiperHttpTTSService

from voice_agent.dialog.replies import lead_clause
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
        if wav is not None:
            frames = self._play(text, wav, context_id)
        else:
            frames = self._synthesize(lead_clause(text), context_id)
        async for frame in frames:
            if isinstance(frame, TTSAudioRawFrame):
                await self.stop_ttfb_metrics()
                self._clock.mark_tts_audio()
            yield frame

    async def _synthesize(self, parts: list[str], context_id: str
                          ) -> AsyncGenerator[Frame, None]:
        for i, part in enumerate(parts):
            wav = await self._fixed_phrase(part) if i < len(parts) - 1 else None
            frames = (self._play(part, wav, context_id) if wav is not None
                      else super().run_tts(part, context_id))
            async for frame in frames:
                yield frame

    async def _play(self, text: str, wav: bytes, context_id: str) -> AsyncGenerator[Frame, None]:
        await self.start_tts_usage_metrics(text)
        async for frame in self._stream_audio_frames_from_iterator(
                _chunks(wav, self.chunk_size), strip_wav_header=True, context_id=context_id):
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
