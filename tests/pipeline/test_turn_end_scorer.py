"""The turn model ends a turn before the speech timeout only when it is sure, for the pause
being waited on, and never while letters are awaited (DialogProcessor with the real manager;
TurnEndScorer with pipecat's bundled Smart Turn model)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pipecat.frames.frames import (
    InputAudioRawFrame,
    TranscriptionFrame,
    TTSSpeakFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.tests.utils import SleepFrame, run_test
from sqlmodel import Session, select

from tests.dialog.test_existing_bookings import rig
from voice_agent.pipeline.dialog_processor import DialogProcessor
from voice_agent.pipeline.turn_clock import TurnClock
from voice_agent.pipeline.turn_end_model import MODEL_RATE, load_turn_end_model
from voice_agent.pipeline.turn_end_scorer import TurnEndScoreFrame, TurnEndScorer
from voice_agent.store.calls import CallStore
from voice_agent.store.models import Call, Turn

LONG_TIMEOUT_S = 30.0  # no turn in these tests can end on the timeout


async def _answered(tmp_path: Path, score: TurnEndScoreFrame | None, text: str,
                    *, letters: bool = False) -> tuple[int, list[Turn]]:
    """Sentences spoken after the greeting, and the caller's stored turns: one the turn model
    ended within 1.5 s of its transcript (the timeout is 30 s), or one answered as the call's
    last words when the test ends the call (``ended_early`` tells which)."""
    async with rig(tmp_path, caller=None) as r:
        if letters:
            r.manager.state.asked = "spell"
        with Session(r.store) as session:
            call_id = session.exec(select(Call)).one().id
        processor = DialogProcessor(
            manager=r.manager, store=CallStore(r.store), call_id=call_id,
            clock=TurnClock(vad_stop_secs=0.2), prompt_hash="x",
            speech_timeout_s=LONG_TIMEOUT_S, turn_end_threshold=0.9)
        frames = [VADUserStartedSpeakingFrame(), SleepFrame(0.05), VADUserStoppedSpeakingFrame(),
                  *([score] if score else []), SleepFrame(0.05),
                  TranscriptionFrame(text, "caller", "now", result={"avg_logprob": -0.2}),
                  SleepFrame(1.5)]
        down, _ = await run_test(processor, frames_to_send=frames)
        spoken = sum(isinstance(f, TTSSpeakFrame) for f in down) - 1
        with Session(r.store) as session:
            return spoken, [t for t in session.exec(select(Turn).order_by(Turn.index))
                            if t.caller_text]


async def test_a_sure_score_answers_without_waiting_for_the_timeout(tmp_path: Path) -> None:
    spoken, turns = await _answered(tmp_path, TurnEndScoreFrame(stop=1, probability=0.96),
                                    "Hi, I'd like to book a haircut.")
    assert spoken >= 1
    assert [t.caller_text for t in turns] == ["Hi, I'd like to book a haircut."]
    assert turns[0].agent_text
    assert turns[0].stt_segments[-1]["ended_early"] is True
    assert turns[0].stt_segments[-1]["turn_end_p"] == 0.96


async def test_no_early_end_without_a_sure_score_for_this_pause(tmp_path: Path) -> None:
    for i, score in enumerate((None, TurnEndScoreFrame(stop=1, probability=0.4),
                               TurnEndScoreFrame(stop=0, probability=0.99))):  # since resumed
        (tmp_path / str(i)).mkdir()
        _, turns = await _answered(tmp_path / str(i), score, "Hi, I'd like to book a haircut.")
        assert turns and not _ended_early(turns)  # answered only as the last words


async def test_no_early_end_on_a_hanging_transcript_or_while_spelling(tmp_path: Path) -> None:
    sure = TurnEndScoreFrame(stop=1, probability=0.99)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for folder, text, letters in (("a", "I'd like to book a haircut for", False),
                                  ("b", "D, A, N, A.", True)):
        _, turns = await _answered(tmp_path / folder, sure, text, letters=letters)
        assert turns and not _ended_early(turns)  # answered only as the last words


def _ended_early(turns: list[Turn]) -> bool:
    return any(t.stt_segments and t.stt_segments[-1].get("ended_early") for t in turns)


async def test_the_scorer_scores_each_pause_with_the_bundled_model() -> None:
    rng = np.random.default_rng(0)
    audio = (rng.normal(0, 800, MODEL_RATE) * np.hanning(MODEL_RATE)).astype(np.int16)
    chunks = [InputAudioRawFrame(audio=audio[i:i + 320].tobytes(), sample_rate=MODEL_RATE,
                                 num_channels=1) for i in range(0, audio.size, 320)]
    scorer = TurnEndScorer(load_turn_end_model())
    down, _ = await run_test(scorer, frames_to_send=[
        VADUserStartedSpeakingFrame(), *chunks, VADUserStoppedSpeakingFrame(), SleepFrame(1.0),
        VADUserStartedSpeakingFrame(), VADUserStoppedSpeakingFrame(), SleepFrame(1.0)])
    scores = [f for f in down if isinstance(f, TurnEndScoreFrame)]
    assert [s.stop for s in scores] == [1, 2]
    assert all(0.0 <= s.probability <= 1.0 for s in scores)
