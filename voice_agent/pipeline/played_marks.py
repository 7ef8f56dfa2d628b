"""What the caller actually heard of the agent: Twilio ``mark`` messages after each utterance.

The server sends audio faster than it plays; only the carrier knows what reached the caller's
ear. After the audio of each utterance (one sentence of a reply: ``TTSStoppedFrame``) this
processor sends a ``mark`` named after it; Twilio echoes the mark once that audio has been
played, and echoes every pending mark at once after a ``clear`` (barge-in). The utterances
whose marks came back before the caller cut in are what they heard (``heard_since``), and the
turn stores that, not the text that was planned.

Sits between TTS and the transport output; the echoes arrive as ``InputTransportMessageFrame``
from the serializer (``SafeTwilioFrameSerializer``).
"""

from __future__ import annotations

from typing import Any

from pipecat.frames.frames import (
    Frame,
    InputTransportMessageFrame,
    InterruptionFrame,
    OutputTransportMessageFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

__all__ = ["MARK_PREFIX", "PlayedMarks"]

MARK_PREFIX = "utterance-"


class PlayedMarks(FrameProcessor):
    def __init__(self, *, stream_sid: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._stream_sid = stream_sid
        self._spoken: list[str] = []  # the text of each utterance whose audio went out
        self._words: list[str] = []  # the utterance being sent
        self._played = 0  # utterances whose marks came back as played
        self._void_below = 0  # marks sent before the last clear: their echo is no playing

    @property
    def next_utterance(self) -> int:
        return len(self._spoken)

    def heard_since(self, first: int) -> str:
        """The text the caller heard of the utterances from ``first`` on."""
        return " ".join(t for t in self._spoken[first:self._played] if t)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InputTransportMessageFrame):
            self._on_message(frame.message)
            await self.push_frame(frame, direction)
            return
        if isinstance(frame, InterruptionFrame):  # Twilio clear: pending marks echo unplayed
            self._void_below = len(self._spoken)
        await self.push_frame(frame, direction)
        if isinstance(frame, TTSStartedFrame):
            self._words = []
        elif isinstance(frame, TTSTextFrame):
            self._words.append(frame.text)
        elif isinstance(frame, TTSStoppedFrame) and self._stream_sid is not None:
            self._spoken.append(" ".join(w.strip() for w in self._words if w.strip()))
            self._words = []
            name = f"{MARK_PREFIX}{len(self._spoken) - 1}"
            await self.push_frame(OutputTransportMessageFrame(message={
                "event": "mark", "streamSid": self._stream_sid, "mark": {"name": name}}))

    def _on_message(self, message: Any) -> None:
        if not isinstance(message, dict) or message.get("event") != "mark":
            return
        mark = message.get("mark")
        name = mark.get("name") if isinstance(mark, dict) else None
        if not isinstance(name, str) or not name.startswith(MARK_PREFIX):
            return
        index = name.removeprefix(MARK_PREFIX)
        if index.isdigit() and (int(index) >= self._void_below or int(index) < self._played):
            self._played = max(self._played, min(int(index) + 1, len(self._spoken)))
