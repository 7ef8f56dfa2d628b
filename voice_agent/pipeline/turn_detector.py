"""When has the caller finished their turn?

A turn ends when (1) VAD has reported the caller silent, (2) no speech resumed within the
speech timeout (a pause inside a sentence does not end it), and (3) every VAD segment of the
turn has been transcribed (segmented STT emits exactly one transcription per segment,
possibly empty). Frame order does not matter: pipecat delivers VAD frames as system frames,
which can overtake the transcriptions they follow. Pure state, unit-tested without audio.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class TurnDetector:
    speaking: bool = False
    segments_pending: int = 0
    timeout_elapsed: bool = False
    texts: list[str] = field(default_factory=list)
    stats: list[dict[str, Any]] = field(default_factory=list)

    def speech_started(self) -> None:
        self.speaking = True
        self.timeout_elapsed = False

    def speech_stopped(self) -> None:
        self.speaking = False
        self.segments_pending += 1
        self.timeout_elapsed = False

    def add_transcript(self, text: str, stats: Any = None) -> None:
        # May go negative for a moment: a transcript that overtakes its own VAD stop is a
        # credit the stop then balances (clamping at 0 would wait for it forever).
        self.segments_pending -= 1
        if text:
            self.texts.append(text)
        if isinstance(stats, dict):
            self.stats.append(stats)

    @property
    def complete(self) -> bool:
        return (
            not self.speaking
            and self.timeout_elapsed
            and self.segments_pending <= 0
            and bool(self.texts)
        )

    def take(self) -> tuple[str, list[dict[str, Any]]]:
        text = " ".join(self.texts).strip()
        stats = self.stats
        self.texts, self.stats, self.timeout_elapsed = [], [], False
        return text, stats
