"""Keypad presses reach the dialog as one keypad turn (DialogProcessor, real manager)."""

from __future__ import annotations

from pathlib import Path

from pipecat.audio.dtmf.types import KeypadEntry
from pipecat.frames.frames import (
    InputDTMFFrame,
    TranscriptionFrame,
    TTSSpeakFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.tests.utils import SleepFrame, run_test
from sqlmodel import Session, select

from tests.dialog.test_existing_bookings import rig
from tests.dialog.test_review_routing import DANA_LETTERS
from voice_agent.pipeline.dialog_processor import DialogProcessor
from voice_agent.pipeline.turn_clock import TurnClock
from voice_agent.store.calls import CallStore
from voice_agent.store.models import Call, Turn


async def test_a_typed_number_and_a_one_are_keypad_turns(tmp_path: Path) -> None:
    async with rig(tmp_path, caller=None) as r:
        spoken = []
        for line in ["Hi, I'd like to book a haircut.", "Next Tuesday at 3 pm.", "Dana Smith.",
                     "T, A, M, A, D, F, M, I, T, H."]:
            stats = {"avg_logprob": -0.2, "no_speech_prob": 0.01, "segments": 1}
            if line.startswith("T, A"):  # the recogniser read the spelling as the name's letters
                stats["letter_scores"] = {"name": "Dana Smith",
                                          "letters": [list(w) for w in DANA_LETTERS.words]}
            spoken += [VADUserStartedSpeakingFrame(), SleepFrame(0.05),
                       VADUserStoppedSpeakingFrame(), SleepFrame(0.05),
                       TranscriptionFrame(line, "caller", "now", result=stats), SleepFrame(1.5)]
        with Session(r.store) as session:
            call_id = session.exec(select(Call)).one().id
        processor = DialogProcessor(manager=r.manager, store=CallStore(r.store), call_id=call_id,
                                    clock=TurnClock(vad_stop_secs=0.2), prompt_hash="x")
        keys = [InputDTMFFrame(KeypadEntry(d)) for d in "5551230009#"]
        down, _ = await run_test(processor, frames_to_send=[
            *spoken, *keys, SleepFrame(1.0), InputDTMFFrame(KeypadEntry("1")), SleepFrame(1.0)])
        said = " ".join(f.text for f in down if isinstance(f, TTSSpeakFrame))
        assert "5 5 5, 1 2 3, 0 0 0 9" in said and "You're all set" in said
        with Session(r.store) as session:
            texts = [t.caller_text for t in session.exec(select(Turn).order_by(Turn.index))]
        assert texts[-2:] == ["(keypad) 5551230009#", "(keypad) 1"]
