"""Twilio marks tell which sentences of a reply the caller heard before cutting in."""

from __future__ import annotations

from pipecat.frames.frames import (
    InputTransportMessageFrame,
    InterruptionFrame,
    OutputTransportMessageFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)
from pipecat.tests.utils import SleepFrame, run_test

from voice_agent.pipeline.played_marks import PlayedMarks


def _echo(index: int) -> InputTransportMessageFrame:
    return InputTransportMessageFrame(message={"event": "mark",
                                               "mark": {"name": f"utterance-{index}"}})


def _utterance(text: str) -> list:
    return [TTSStartedFrame(), SleepFrame(0.05), TTSTextFrame(text, text_type="sentence"),
            SleepFrame(0.05), TTSStoppedFrame(), SleepFrame(0.05)]


async def test_a_mark_follows_each_utterance_and_its_echo_counts_as_heard() -> None:
    played = PlayedMarks(stream_sid="MZ1")
    frames = [*_utterance("So that's a haircut on Tuesday at 3 PM."), _echo(0),
              *_utterance("Shall I book that?"), InterruptionFrame(), SleepFrame(0.05),
              _echo(1)]
    down, _ = await run_test(played, frames_to_send=frames)
    marks = [f.message for f in down if isinstance(f, OutputTransportMessageFrame)]
    assert marks == [{"event": "mark", "streamSid": "MZ1", "mark": {"name": f"utterance-{i}"}}
                     for i in (0, 1)]
    # The second mark came back only because of the clear: that sentence was not heard.
    assert played.heard_since(0) == "So that's a haircut on Tuesday at 3 PM."
    assert played.next_utterance == 2


async def test_without_a_stream_no_marks_are_sent() -> None:
    played = PlayedMarks(stream_sid=None)
    down, _ = await run_test(played, frames_to_send=_utterance("Hello."))
    assert not [f for f in down if isinstance(f, OutputTransportMessageFrame)]
