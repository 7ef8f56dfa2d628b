"""When has the caller finished their turn?

A turn ends when (1) VAD has reported the caller silent, (2) no speech resumed within the
speech timeout (a pause inside a sentence does not end it), or sooner, when the turn model is
sure the caller has finished and the transcript reads as finished (``sounds_finished``), and
(3) every VAD segment of the turn has been transcribed (segmented STT emits exactly one
transcription per segment, possibly empty). Frame order does not matter: pipecat delivers
VAD frames as system frames, which can overtake the transcriptions they follow. Pure state,
unit-tested without audio.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# Words a sentence does not end on: a caller stopping after one is pausing, not finished
# ("a haircut on", "Tuesday and", "my name is"). English function words, a closed class.
_HANGING = frozenset("""
a an the my your our his her their this that these those some any
and or but so because cos if then than when while where whether
to for at on in of with from by about after before until till into onto like as
is are was were be am i'm it's i'd i'll i've we're you're can could would will shall
um uh er erm ah mm hmm
""".split())
_LAST_WORD = re.compile(r"([\w']+)\W*$")
# A greeting alone opens a turn, it does not end one: "Morning." then a breath, then "Could I
# come in for a check-up at half ten on Thursday?" was answered after "Morning." (2026-12-04
# audio run, the robotic caller voice), and the request came in as a second turn.
_GREETING = frozenset("hi hiya hello hey there morning afternoon evening".split())
_WORDS = re.compile(r"[\w']+")
_GOOD_DAY = re.compile(r"\bgood (?=morning|afternoon|evening)")


def sounds_finished(text: str) -> bool:
    """Whether a transcript reads as a finished utterance: whisper closed it with a full stop,
    question or exclamation mark (not an ellipsis or a comma), it is more than a greeting, and
    it does not end on a word that needs more after it."""
    stripped = text.strip()
    if not stripped or stripped.endswith(("...", "…", ",", "-")) or stripped[-1] not in ".?!":
        return False
    folded = stripped.casefold().replace("’", "'")
    if all(w in _GREETING for w in _WORDS.findall(_GOOD_DAY.sub("", folded))):
        return False
    last = _LAST_WORD.search(folded)
    return last is not None and last.group(1) not in _HANGING


@dataclass
class TurnDetector:
    speaking: bool = False
    segments_pending: int = 0
    timeout_elapsed: bool = False
    texts: list[str] = field(default_factory=list)
    stats: list[dict[str, Any]] = field(default_factory=list)
    finished_p: float | None = None  # the turn model's score of the current pause
    sure_finished: bool = False  # ... at or above the dialog's threshold

    def speech_started(self) -> None:
        self.speaking = True
        self.timeout_elapsed = False
        self.finished_p, self.sure_finished = None, False

    def speech_stopped(self) -> None:
        self.speaking = False
        self.segments_pending += 1
        self.timeout_elapsed = False
        self.finished_p, self.sure_finished = None, False

    def scored(self, probability: float, *, threshold: float | None) -> None:
        """The turn model's score of the pause now running (``threshold`` None: only noted)."""
        self.finished_p = probability
        self.sure_finished = threshold is not None and probability >= threshold

    def add_transcript(self, text: str, stats: Any = None) -> None:
        # May go negative for a moment: a transcript that overtakes its own VAD stop is a
        # credit the stop then balances (clamping at 0 would wait for it forever).
        self.segments_pending -= 1
        if text:
            self.texts.append(text)
        if isinstance(stats, dict):
            self.stats.append(stats)

    @property
    def ends_early(self) -> bool:
        return self.sure_finished and bool(self.texts) and sounds_finished(self.texts[-1])

    @property
    def complete(self) -> bool:
        return (
            not self.speaking
            and (self.timeout_elapsed or self.ends_early)
            and self.segments_pending <= 0
            and bool(self.texts)
        )

    def take(self) -> tuple[str, list[dict[str, Any]]]:
        """The turn's text and per-segment stats (the last carries the turn model's score and
        whether it ended the turn before the speech timeout)."""
        text = " ".join(self.texts).strip()
        stats = self.stats
        if stats and self.finished_p is not None:
            stats[-1] = {**stats[-1], "turn_end_p": round(self.finished_p, 3),
                         "ended_early": self.ends_early and not self.timeout_elapsed}
        self.texts, self.stats, self.timeout_elapsed = [], [], False
        self.finished_p, self.sure_finished = None, False
        return text, stats
