"""faster-whisper STT that shares one loaded model across calls and reports confidence.

pipecat's ``WhisperSTTService`` loads its model in every instance; a call must never wait
for a model load, so the model is loaded once per process (``load_whisper``) and injected.
Each transcription also carries the segment statistics QA needs (average log-probability
and no-speech probability) in ``TranscriptionFrame.result``. ``prompt`` (when given) returns,
at the moment a segment is transcribed, what the dialog expects to hear next
(``DialogManager.listening_prompt``); while a heard name is spelled, the segment is also
scored against that name's letters (``pipeline/spelling_check.py``), and the names it could
otherwise be are scored in the background, for the booking to decide by.
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
from voice_agent.dialog.name_choice import above_floor, names_to_score
from voice_agent.dialog.name_lexicon import name_lexicon
from voice_agent.dialog.spelling import spelled_letters
from voice_agent.pipeline.spelling_check import (
    JOINT_KEY,
    NameClip,
    joint_evidence,
    letter_logprobs,
)
from voice_agent.pipeline.whisper_model import last_encoded, transcribe

RivalScores = dict[str, Any]  # name -> its letters' log-probabilities (and JOINT_KEY)
MIN_JOINT_LETTERS = 4  # fewer letters than this heard: the spelling is no second hearing


def hear(model: WhisperModel, audio: bytes, listening: Listening | None, beam_size: int,
         name_clip: NameClip | None = None
         ) -> tuple[str, dict[str, Any], Callable[[], RivalScores] | None]:
    """Transcribe one segment; while a heard name is spelled, also score the segment's audio
    against that name's letters (``stats["letter_scores"]``: the name and, word by word, each
    letter's log-probability). Returned last, when the heard name could still be taken: how
    to score the names it could otherwise be (the census names nearest its letters and the
    heard name's rivals, ``dialog/name_choice.py``), about 0.1 s of 2 cores each; with the
    caller's answer to the name question (``name_clip``), each of them on that audio too
    (``spelling_check.joint_evidence``), whether or not a name was heard in it. Only a
    booking needs them, so they are scored off the caller's reply path (``later_scores``).
    The segment is encoded once for all of this (``whisper_model.ReusingWhisperModel``)."""
    text, stats = transcribe(model, audio, prompt=listening.prompt if listening else None,
                             examples=listening.examples if listening else (),
                             beam_size=beam_size)
    if listening is None or listening.asked != "spell" or not text:
        return text, stats, None
    name, letters = listening.spelling_of, spelled_letters(text)
    joint = name_clip is not None and len(letters) >= MIN_JOINT_LETTERS
    if not name and not joint:
        return text, stats, None
    # The transcription's encoder output, to share across threads (one 30 s window only).
    encoded = last_encoded() if len(audio) <= 30 * 16_000 * 2 else None
    rivals: list[str] = []
    if name:
        names = names_to_score(name, letters, name_lexicon())
        heard = letter_logprobs(model, audio, names[:1], prompt=listening.prompt,
                                encoded=encoded)[0]
        stats["letter_scores"] = {"name": name, "letters": heard, "scored": {name: heard}}
        rivals = names[1:] if above_floor(heard) else []  # else no score could get it taken
    if joint:
        assert name_clip is not None
        have = dict(stats.get("letter_scores", {}).get("scored", {}))
        stats.setdefault("letter_scores", {"name": "", "letters": [], "scored": {}})
        return text, stats, lambda: joint_evidence(model, audio, listening.prompt, encoded,
                                                   name_clip, name, letters, have)
    if not rivals:
        return text, stats, None
    return text, stats, lambda: dict(zip(rivals, letter_logprobs(
        model, audio, rivals, prompt=listening.prompt, encoded=encoded), strict=True))


class SharedWhisperSTTService(WhisperSTTService):
    def __init__(self, *, model: WhisperModel, prompt: Callable[[], Listening] | None = None,
                 later_scores: Callable[[int, asyncio.Task[RivalScores]], None] | None = None,
                 beam_size: int = 1, **kwargs: Any) -> None:
        """``later_scores`` is handed, before the segment's transcription is pushed on, the
        task scoring a spelled name's rivals and the number the segment's ``letter_scores``
        carry as ``later``; without it they are scored before the transcription is."""
        self._shared_model = model
        self._prompt = prompt
        self._later_scores = later_scores
        self._later_count = 0
        self._jobs: set[asyncio.Task[RivalScores]] = set()
        self._name_clip: NameClip | None = None  # the caller's last answer to "your name?"
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
            clip = self._name_clip if listening and listening.asked == "spell" else None
            text, stats, rivals = await asyncio.to_thread(hear, model, audio, listening,
                                                          self._beam_size, clip)
            if listening is not None and listening.asked == "name" and text.strip():
                self._name_clip = NameClip(audio, listening.prompt, text)
            if rivals is not None and self._later_scores is None:
                scored = dict(await asyncio.to_thread(rivals))
                if (joint := scored.pop(JOINT_KEY, None)) is not None:
                    stats["letter_scores"]["joint"] = joint
                stats["letter_scores"]["scored"] |= scored
            elif rivals is not None:
                self._later_count += 1
                stats["letter_scores"]["later"] = self._later_count
                self._later_scores(self._later_count, self._background(rivals))
        except Exception as exc:  # an unusable segment must not stall the turn detector
            logger.error(f"{self}: transcription failed: {type(exc).__name__}: {exc}")
            text, stats = "", {"error": type(exc).__name__}
        stats["seconds"] = round(time.perf_counter() - t0, 4)  # the turn record's STT stage
        await self.stop_processing_metrics()
        # Always one frame per VAD segment, even when empty, so the turn detector downstream
        # can tell that every segment of the turn has been transcribed.
        yield TranscriptionFrame(text, self._user_id, time_now_iso8601(), None, result=stats)

    def _background(self, score: Callable[[], RivalScores]) -> asyncio.Task[RivalScores]:
        """``score`` in a worker thread, held here until it ends (the loop holds tasks only
        weakly); a failure is logged whether or not a booking ever waits for the result."""
        task = asyncio.create_task(asyncio.to_thread(score))
        self._jobs.add(task)

        def done(t: asyncio.Task[RivalScores]) -> None:
            self._jobs.discard(t)
            if not t.cancelled() and t.exception() is not None:
                logger.error(f"scoring a spelled name's rivals failed: "
                             f"{type(t.exception()).__name__}")

        task.add_done_callback(done)
        return task
