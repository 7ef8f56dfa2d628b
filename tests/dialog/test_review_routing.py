"""Uncertain bookings go to the human review queue, not the calendar."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, select

from voice_agent.dialog.confidence import ConfidenceRecord
from voice_agent.store.models import BookingIntent
from voice_agent.store.review import ReviewItem

from .test_existing_bookings import rig

# slot free -> name -> number -> the one confirmation -> yes
LINES = ["Hi, I'd like to book a haircut.", "Next Tuesday at 3 pm.", "Dana Smith.", "That's fine.",
         "Yes please."]


async def _book(r, logprob: float):
    r.manager.greeting()
    for line in LINES:
        turn = await r.manager.handle_turn(line, stt_avg_logprob=logprob)
        await r.manager.settle()
    return turn


async def test_clear_speech_books_into_the_calendar(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        turn = await _book(r, logprob=-0.2)
        assert turn.agent_text == (
            "You're all set, Dana Smith: a haircut on Tuesday, December 1 at 3 PM. "
            "Is there anything else I can help with?")
        assert len(await r.calendar.find_bookings(phone="+15551230001")) == 1
        with Session(r.store) as session:
            assert session.exec(select(ReviewItem)).all() == []


async def test_mumbled_slot_goes_to_review_and_caller_is_told(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        turn = await _book(r, logprob=-1.6)  # exp(-1.6) = 0.2 < threshold 0.45
        assert turn.agent_text == (
            "I've noted your request for a haircut on Tuesday, December 1 at 3 PM. A colleague "
            "will confirm it by text shortly. Is there anything else?")
        assert r.manager.state.outcome == "pending_review"
        assert await r.calendar.find_bookings(phone="+15551230001") == []
        with Session(r.store) as session:
            [item] = session.exec(select(ReviewItem)).all()
            intent = session.get(BookingIntent, item.intent_id)
        assert item.status == "pending" and intent.status == "review"
        assert intent.payload["service"] == "haircut"
        assert item.confidence["explicit_confirmation"] is True
        assert item.confidence["score"] < 0.45
        events = [e for e in turn.policy_events if e["event"] == "sent_to_review"]
        assert events


def test_score_rules() -> None:
    assert ConfidenceRecord(explicit_confirmation=False).score() == 0.0
    sure = ConfidenceRecord(stt_avg_logprobs=[-0.1, -0.2], explicit_confirmation=True)
    assert sure.score() > 0.8
    muddled = ConfidenceRecord(stt_avg_logprobs=[-0.1], explicit_confirmation=True,
                               misunderstandings=3)
    assert muddled.score() < sure.score()
    llm = ConfidenceRecord(explicit_confirmation=True, llm_disagreements=2)
    assert llm.score() == 1.0 and llm.score(count_llm_disagreement=True) < 1.0
