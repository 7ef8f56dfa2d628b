"""A turn that cannot be stored, or a dialog that fails, never leaves the caller in silence
(DialogProcessor with the real manager and a real SQLite store)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from pipecat.frames.frames import (
    EndWorkerFrame,
    TranscriptionFrame,
    TTSSpeakFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.tests.utils import SleepFrame, run_test
from sqlmodel import Session, select

from tests.dialog.test_existing_bookings import CALLER, rig
from voice_agent.pipeline.dialog_processor import DialogProcessor
from voice_agent.pipeline.turn_clock import TurnClock
from voice_agent.store.calls import CallStore
from voice_agent.store.models import BookingIntent, Call, Turn


def _said(line: str) -> list[Any]:
    return [VADUserStartedSpeakingFrame(), SleepFrame(0.05), VADUserStoppedSpeakingFrame(),
            SleepFrame(0.05), TranscriptionFrame(line, "caller", "now", result={
                "avg_logprob": -0.2, "no_speech_prob": 0.01}), SleepFrame(1.5)]


def _processor(r: Any, store: CallStore) -> DialogProcessor:
    with Session(r.store) as session:
        call_id = session.exec(select(Call)).one().id
    return DialogProcessor(manager=r.manager, store=store, call_id=call_id,
                           clock=TurnClock(vad_stop_secs=0.2), prompt_hash="x")


async def test_a_turn_whose_events_hold_dates_is_stored_and_answered(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        store = CallStore(r.store)
        processor = _processor(r, store)
        row = Turn(call_id=processor._call_id, index=99, policy_events=[
            {"event": "reading", "fast": {"day": dt.date(2026, 12, 4)}}])
        await store.save_turn(row)  # what failed: "Object of type date is not JSON serializable"
        down, _ = await run_test(processor, frames_to_send=[
            *_said("Hi, could I book a haircut for Friday afternoon?")])
        assert any(isinstance(f, TTSSpeakFrame) for f in down)
        with Session(r.store) as session:
            stored = session.exec(select(Turn).where(Turn.index == 99)).one()
        assert stored.policy_events[0]["fast"]["day"] == "2026-12-04"


class _BrokenStore(CallStore):
    async def save_turn(self, turn: Turn) -> Turn:
        raise OSError("disk full")


async def test_a_turn_the_store_refuses_is_still_answered(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        processor = _processor(r, _BrokenStore(r.store))
        down, _ = await run_test(processor, frames_to_send=[
            *_said("Hi, I'd like to book a haircut."), *_said("Next Tuesday at 3 pm.")])
        said = [f.text for f in down if isinstance(f, TTSSpeakFrame)]
        assert len(said) >= 2 and any("name" in s.lower() for s in said), said


async def test_a_dialog_that_fails_apologises_offers_a_callback_and_ends(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        async def broken(*_: Any, **__: Any) -> Any:
            raise KeyError("a bug in the dialog")

        r.manager.handle_turn = broken  # type: ignore[method-assign]
        processor = _processor(r, CallStore(r.store))
        down, _ = await run_test(processor, frames_to_send=[*_said("Hi, a haircut please.")])
        said = " ".join(f.text for f in down if isinstance(f, TTSSpeakFrame))
        assert said.strip() and any(isinstance(f, EndWorkerFrame) for f in down)
        with Session(r.store) as session:
            turn = session.exec(select(Turn)).one()
            intents = session.exec(select(BookingIntent)).all()
        assert turn.policy_events[0]["event"] == "internal_error"
        assert turn.agent_text and said.endswith(turn.agent_text)
        assert [i.payload["why"] for i in intents if i.action == "callback"] == [
            "internal error"]


async def test_a_yes_said_just_before_hanging_up_books_the_slot_once(tmp_path: Path) -> None:
    """The socket drops right after "Yes, please book it." (before the end-of-turn pause):
    the yes is still a turn, the slot is booked exactly once, and every turn is stored."""
    async with rig(tmp_path) as r:
        processor = _processor(r, CallStore(r.store))
        lines = ["Hi, I'd like to book a haircut.", "Next Tuesday at 3 pm.", "Dana Smith.",
                 "My mobile is fine."]
        spoken = [f for line in lines for f in _said_plain(line)]
        last = [VADUserStartedSpeakingFrame(), SleepFrame(0.05), VADUserStoppedSpeakingFrame(),
                TranscriptionFrame("Yes, please book it.", "caller", "now", result={})]
        down, _ = await run_test(processor, frames_to_send=[*spoken, *last])  # then EndFrame
        with Session(r.store) as session:
            texts = [t.caller_text for t in session.exec(select(Turn).order_by(Turn.index))]
        bookings = await r.calendar.find_bookings(phone=CALLER)
        assert texts[-1] == "Yes, please book it.", texts
        new = [b for b in bookings if b.name == "Dana Smith"]
        assert len(new) == 1 and new[0].start.hour == 15, bookings
        said = [f.text for f in down if isinstance(f, TTSSpeakFrame)]
        assert not any("booked" in s.lower() or "all set" in s.lower() for s in said[-1:]), (
            "the reply to the last words was spoken into a closed call")


def _said_plain(line: str) -> list[Any]:
    """A caller line as text mode reads it (no STT confidence: not the phone's heard mode)."""
    return [VADUserStartedSpeakingFrame(), SleepFrame(0.05), VADUserStoppedSpeakingFrame(),
            SleepFrame(0.05), TranscriptionFrame(line, "caller", "now", result={}),
            SleepFrame(1.5)]
