"""Per-stage timestamps of the current turn.

They are stamped in-line by the processors that see each event (the dialog processor and the
TTS service), not by a pipecat observer: observers run from a queue and lag under CPU load,
which would misattribute stamps between turns.

Stages (wall-clock unix seconds):
- ``speech_end``: the caller stopped speaking (VAD stop time minus VAD ``stop_secs``);
- ``stt_done``: the last transcription of the turn reached the dialog;
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

    def mark_tts_audio(self) -> None:
        if self.awaiting_reply and self.tts_first_audio is None:
            self.tts_first_audio = time.time()

    def reset_for_reply(self) -> None:
        self.tts_first_audio = None
        self.first_audio_sent = None
        self.awaiting_reply = True

    def clear_caller_stamps(self) -> None:
        """A reply nobody's words prompted (a no-input prompt): no caller stage to time."""
        self.speech_end = self.stt_done = self.turn_end = self.llm_first_token = None

    def snapshot(self) -> dict[str, float | None]:
        return {
            "speech_end_ts": self.speech_end,
            "stt_done_ts": self.stt_done,
            "turn_end_ts": self.turn_end,
            "llm_first_token_ts": self.llm_first_token,
            "tts_first_audio_ts": self.tts_first_audio,
            "first_audio_sent_ts": self.first_audio_sent,
        }
