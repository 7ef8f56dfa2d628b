"""Silence after the agent's reply is answered, not waited out (DialogProcessor, real manager,
real SQLite store). In audio evals the VAD missed short answers on a noisy line ("Yes,
please." at SNR 15) and both sides then waited in silence for 30 s."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    EndWorkerFrame,
    TranscriptionFrame,
    TTSSpeakFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.tests.utils import SleepFrame, run_test
from sqlmodel import Session, select

from tests.dialog.test_existing_bookings import rig
from voice_agent.pipeline.dialog_processor import MAX_NO_INPUT_REPROMPTS, DialogProcessor
from voice_agent.pipeline.turn_clock import TurnClock
from voice_agent.store.calls import CallStore
from voice_agent.store.models import BookingIntent, Call, Turn

NO_INPUT_S = 0.3


def _reply_played(then_s: float) -> list[Any]:
    """The transport's view of one reply: it started and stopped playing, then ``then_s``."""
    return [BotStartedSpeakingFrame(), SleepFrame(0.05), BotStoppedSpeakingFrame(),
            SleepFrame(then_s)]


def _said(line: str) -> list[Any]:
    return [VADUserStartedSpeakingFrame(), SleepFrame(0.05), VADUserStoppedSpeakingFrame(),
            SleepFrame(0.05), TranscriptionFrame(line, "caller", "now", result={
                "avg_logprob": -0.2, "no_speech_prob": 0.01}), SleepFrame(1.2)]


def _processor(r: Any) -> DialogProcessor:
    with Session(r.store) as session:
        call_id = session.exec(select(Call)).one().id
    return DialogProcessor(manager=r.manager, store=CallStore(r.store), call_id=call_id,
                           clock=TurnClock(vad_stop_secs=0.2), prompt_hash="x",
                           no_input_s=NO_INPUT_S)


def _turns(r: Any) -> list[Turn]:
    with Session(r.store) as session:
        return list(session.exec(select(Turn).order_by(Turn.index)))


async def test_silence_after_a_question_is_asked_again_and_the_answer_still_counts(
        tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        down, _ = await run_test(_processor(r), frames_to_send=[
            *_said("Hi, I'd like to book a haircut."), *_reply_played(NO_INPUT_S + 0.4),
            *_said("Next Tuesday at 3 pm.")])
        said = [f.text for f in down if isinstance(f, TTSSpeakFrame)]
        assert any("didn't catch that" in s for s in said), said
        turns = _turns(r)
        assert [t.caller_text for t in turns] == [
            "Hi, I'd like to book a haircut.", None, "Next Tuesday at 3 pm."]
        prompt = turns[1]
        assert prompt.policy_events == [{"event": "no_input", "silent_s": NO_INPUT_S,
                                         "in_a_row": 1}]
        assert prompt.speech_end_ts is None and prompt.stt_done_ts is None  # no caller stage
        assert r.manager.state.day is not None  # the answer after the prompt was understood
        assert not any(isinstance(f, EndWorkerFrame) for f in down)


async def test_a_short_answer_under_the_no_input_prompt_is_the_answer(tmp_path: Path) -> None:
    """The caller replies just as the prompt starts: two words under the agent's voice are
    a backchannel anywhere else; here they are the answer the agent asked for."""
    async with rig(tmp_path) as r:
        down, _ = await run_test(_processor(r), frames_to_send=[
            *_said("Hi, I'd like to book a haircut."), *_reply_played(NO_INPUT_S + 0.3),
            BotStartedSpeakingFrame(), SleepFrame(0.05),  # "Sorry, I didn't catch that ..."
            VADUserStartedSpeakingFrame(), SleepFrame(0.05), VADUserStoppedSpeakingFrame(),
            TranscriptionFrame("Next Tuesday.", "caller", "now", result={
                "avg_logprob": -0.2, "no_speech_prob": 0.01}),
            SleepFrame(0.05), BotStoppedSpeakingFrame(), SleepFrame(1.2)])
        said = [f.text for f in down if isinstance(f, TTSSpeakFrame)]
        assert sum("didn't catch that" in s for s in said) == 1, said
        assert [t.caller_text for t in _turns(r)] == [
            "Hi, I'd like to book a haircut.", None, "Next Tuesday."]
        assert r.manager.state.day is not None


async def test_a_backchannel_under_an_ordinary_reply_is_still_dropped(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        await run_test(_processor(r), frames_to_send=[
            *_said("Hi, I'd like to book a haircut."),
            BotStartedSpeakingFrame(), SleepFrame(0.05),  # "Sure, a haircut. What day ...?"
            VADUserStartedSpeakingFrame(), SleepFrame(0.05), VADUserStoppedSpeakingFrame(),
            TranscriptionFrame("Mm-hm.", "caller", "now", result={
                "avg_logprob": -0.2, "no_speech_prob": 0.01}),
            SleepFrame(0.05), BotStoppedSpeakingFrame(), SleepFrame(0.2)])
        assert [t.caller_text for t in _turns(r)] == ["Hi, I'd like to book a haircut."]


async def test_speech_that_comes_out_as_no_words_is_asked_again(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        down, _ = await run_test(_processor(r), frames_to_send=[
            *_reply_played(0.05),  # the greeting
            VADUserStartedSpeakingFrame(), SleepFrame(0.05), VADUserStoppedSpeakingFrame(),
            SleepFrame(0.05), TranscriptionFrame("", "caller", "now", result={}),
            SleepFrame(NO_INPUT_S + 0.8)])
        said = [f.text for f in down if isinstance(f, TTSSpeakFrame)]
        assert any("didn't catch that" in s for s in said), said


async def test_a_caller_who_starts_speaking_is_not_prompted(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        down, _ = await run_test(_processor(r), frames_to_send=[
            BotStoppedSpeakingFrame(), SleepFrame(NO_INPUT_S / 2), VADUserStartedSpeakingFrame(),
            SleepFrame(NO_INPUT_S + 0.3)])  # still talking, long past the timeout
        said = [f.text for f in down if isinstance(f, TTSSpeakFrame)]
        assert not any("didn't catch" in s for s in said), said
        assert _turns(r) == []


async def test_no_prompt_while_the_reply_has_not_started_playing(tmp_path: Path) -> None:
    """The reply is with TTS (here: it never plays, as when Piper is down): no prompt."""
    async with rig(tmp_path) as r:
        down, _ = await run_test(_processor(r), frames_to_send=[
            *_reply_played(0.05), *_said("Hi, I'd like to book a haircut."),
            BotStoppedSpeakingFrame(), SleepFrame(NO_INPUT_S + 0.4)])
        said = [f.text for f in down if isinstance(f, TTSSpeakFrame)]
        assert not any("didn't catch" in s for s in said), said


async def test_a_caller_silent_after_every_prompt_gets_a_callback_and_the_call_ends(
        tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        processor = _processor(r)
        silences = [f for _ in range(MAX_NO_INPUT_REPROMPTS + 1)
                    for f in _reply_played(NO_INPUT_S + 0.4)]
        down, _ = await run_test(processor, frames_to_send=[
            *_said("Hi, I'd like to book a haircut."), *silences])
        said = [f.text for f in down if isinstance(f, TTSSpeakFrame)]
        assert sum("didn't catch that" in s for s in said) == MAX_NO_INPUT_REPROMPTS
        assert any("still can't hear you" in s for s in said), said
        assert any(isinstance(f, EndWorkerFrame) for f in down)
        assert processor.outcome.end_reason == "no_input"
        events = [t.policy_events[0] for t in _turns(r) if t.caller_text is None]
        assert [e["in_a_row"] for e in events] == list(range(1, MAX_NO_INPUT_REPROMPTS + 2))
        with Session(r.store) as session:
            intents = session.exec(select(BookingIntent)).all()
        callbacks = [i.payload for i in intents if i.action == "callback"]
        assert [c["why"] for c in callbacks] == ["caller silent"]
        assert callbacks[0]["service"] == "haircut"  # what the caller wanted is kept
