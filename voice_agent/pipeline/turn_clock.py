"""Per-stage timestamps of the current turn, collected by a pipecat observer.

Stages (wall-clock unix seconds):
- ``speech_end``: the caller stopped speaking (VAD stop time minus VAD ``stop_secs``);
- ``stt_done``: the last transcription of the turn left the STT service;
- ``turn_end``: the turn detector decided the caller has finished (set by the dialog);
- ``llm_first_token``: the reply text was decided: the LLM's (non-streamed) answer, or the
  policy's reply when the turn needed no LLM round-trip (set by the dialog);
- ``tts_first_audio``: the TTS service produced the first audio of the reply;
- ``first_audio_sent``: the output transport started sending the reply to the caller (set
  by the dialog processor when the transport's BotStartedSpeakingFrame reaches it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pipecat.frames.frames import (
    TranscriptionFrame,
    TTSAudioRawFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.observers.base_observer import BaseObserver, FramePushed


@dataclass
class TurnClock:
    vad_stop_secs: float
    speech_end: float | None = None
    stt_done: float | None = None
    turn_end: float | None = None
    llm_first_token: float | None = None
    tts_first_audio: float | None = None
    first_audio_sent: float | None = None
    awaiting_reply: bool = False

    def reset_for_reply(self) -> None:
        self.tts_first_audio = None
        self.first_audio_sent = None
        self.awaiting_reply = True

    def snapshot(self) -> dict[str, float | None]:
        return {
            "speech_end_ts": self.speech_end,
            "stt_done_ts": self.stt_done,
            "turn_end_ts": self.turn_end,
            "llm_first_token_ts": self.llm_first_token,
            "tts_first_audio_ts": self.tts_first_audio,
            "first_audio_sent_ts": self.first_audio_sent,
        }


class TurnTimingObserver(BaseObserver):
    """Stamps the turn clock as frames cross the pipeline (first push of each frame only)."""

    def __init__(self, clock: TurnClock, *, tts: object) -> None:
        super().__init__()
        self._clock = clock
        self._tts = tts

    async def on_push_frame(self, data: FramePushed) -> None:
        frame, clock, now = data.frame, self._clock, time.time()
        if isinstance(frame, VADUserStoppedSpeakingFrame) and data.first_push:
            clock.speech_end = now - clock.vad_stop_secs
        elif isinstance(frame, TranscriptionFrame) and data.first_push:
            clock.stt_done = now
        elif (
            isinstance(frame, TTSAudioRawFrame)
            and data.source is self._tts
            and clock.awaiting_reply
            and clock.tts_first_audio is None
        ):
            clock.tts_first_audio = now
