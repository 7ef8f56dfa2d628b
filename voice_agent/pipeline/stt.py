"""faster-whisper STT that shares one loaded model across calls and reports confidence.

pipecat's ``WhisperSTTService`` loads its model in every instance; a call must never wait
for a model load, so the model is loaded once per process (``load_whisper``) and injected.
Each transcription also carries the segment statistics QA needs (average log-probability
and no-speech probability) in ``TranscriptionFrame.result``. ``prompt`` (when given) returns,
at the moment a segment is transcribed, what the dialog expects to hear next
(``DialogManager.listening_prompt``); while a heard name is spelled, the segment is also
scored against that name's letters (``pipeline/spelling_check.py``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable
from typing import Any

from faster_whisper import WhisperModel
from loguru import logger
from pipecat.frames.frames import ErrorFrame, Frame, TranscriptionFrame
from pipecat.services.whisper.stt import WhisperSTTService
from pipecat.utils.time import time_now_iso8601

from voice_agent.dialog.listening import Listening
from voice_agent.dialog.name_choice import names_to_score
from voice_agent.dialog.name_lexicon import name_lexicon
from voice_agent.dialog.spelling import spelled_letters
from voice_agent.pipeline.spelling_check import letter_logprobs
from voice_agent.pipeline.whisper_model import transcribe


def hear(model: WhisperModel, audio: bytes, listening: Listening | None, beam_size: int
         ) -> tuple[str, dict[str, Any]]:
    """Transcribe one segment; while a heard name is spelled, also score the segment's audio
    against that name's letters (``stats["letter_scores"]``: the name and, word by word, each
    letter's log-probability) and against the names it could be (``"scored"``: the heard
    name first, then the census names nearest its letters and the heard name's rivals,
    ``dialog/name_choice.py``)."""
    text, stats = transcribe(model, audio, prompt=listening.prompt if listening else None,
                             examples=listening.examples if listening else (),
                             beam_size=beam_size)
    if listening is not None and listening.spelling_of and text:
        name = listening.spelling_of
        names = names_to_score(name, spelled_letters(text), name_lexicon())
        scored = letter_logprobs(model, audio, names, prompt=listening.prompt)
        stats["letter_scores"] = {"name": name, "letters": scored[0],
                                  "scored": dict(zip(names, scored, strict=True))}
    return text, stats


class SharedWhisperSTTService(WhisperSTTService):
    def __init__(self, *, model: WhisperModel, prompt: Callable[[], Listening] | None = None,
                 beam_size: int = 1, **kwargs: Any) -> None:
        self._shared_model = model
        self._prompt = prompt
        self._beam_size = beam_size
        super().__init__(device="cpu", compute_type="int8", **kwargs)

    def _load(self) -> None:  # called by the parent constructor
        self._model = self._shared_model

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame, None]:
        model = self._model
        if model is None:
            yield ErrorFrame("Whisper model not available")
            yield TranscriptionFrame("", self._user_id, time_now_iso8601(), None, result={})
            return
        await self.start_processing_metrics()
        t0 = time.perf_counter()
        try:
            listening = self._prompt() if self._prompt is not None else None
            text, stats = await asyncio.to_thread(hear, model, audio, listening,
                                                  self._beam_size)
        except Exception as exc:  # an unusable segment must not stall the turn detector
            logger.error(f"{self}: transcription failed: {type(exc).__name__}: {exc}")
            text, stats = "", {"error": type(exc).__name__}
        stats["seconds"] = round(time.perf_counter() - t0, 4)  # the turn record's STT stage
        await self.stop_processing_metrics()
        # Always one frame per VAD segment, even when empty, so the turn detector downstream
        # can tell that every segment of the turn has been transcribed.
        yield TranscriptionFrame(text, self._user_id, time_now_iso8601(), None, result=stats)
