"""Scores each pause in the caller's speech with the turn model, for the dialog to end the
turn sooner when the caller has clearly finished.

Sits after the VAD: keeps the last 8 s of the caller's 16 kHz audio and, on each
``VADUserStoppedSpeakingFrame``, scores it (``turn_end_model.py``, in a worker thread, ~50 ms)
and sends a :class:`TurnEndScoreFrame` downstream numbered like the VAD stops, so the dialog
can tell a score for the pause it is waiting on from a late one for a pause since resumed.
A failed score is no score: the turn ends on the speech timeout as it always did.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass

import numpy as np
from pipecat.frames.frames import (
    Frame,
    InputAudioRawFrame,
    SystemFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from voice_agent.pipeline.turn_end_model import MODEL_RATE, TurnEndModel

log = logging.getLogger(__name__)

__all__ = ["TurnEndScoreFrame", "TurnEndScorer"]

_WINDOW_SAMPLES = MODEL_RATE * 8


@dataclass
class TurnEndScoreFrame(SystemFrame):
    """P(the caller has finished) at the ``stop``-th VAD stop of the call (1-based)."""

    stop: int = 0
    probability: float = 0.0


class TurnEndScorer(FrameProcessor):
    def __init__(self, model: TurnEndModel, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._model = model
        self._audio: deque[np.ndarray] = deque()  # the last 8 s of caller audio, by frame
        self._samples = 0
        self._stops = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame) and frame.sample_rate == MODEL_RATE:
            chunk = np.frombuffer(frame.audio, dtype=np.int16)
            self._audio.append(chunk)
            self._samples += chunk.size
            while self._samples - self._audio[0].size >= _WINDOW_SAMPLES:
                self._samples -= self._audio.popleft().size
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self._stops += 1
            heard = np.concatenate(self._audio) if self._audio else np.zeros(0, np.int16)
            audio = heard.astype(np.float32) / 32768.0
            task = asyncio.create_task(self._score(self._stops, audio))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _score(self, stop: int, audio: np.ndarray) -> None:
        try:
            p = await asyncio.to_thread(self._model.probability, audio)
        except Exception as exc:  # the timeout still ends the turn
            log.warning("turn model failed: %s", type(exc).__name__)
            return
        await self.push_frame(TurnEndScoreFrame(stop=stop, probability=p))

    async def cleanup(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await super().cleanup()
