"""Uncertain bookings go to the human review queue, not the calendar."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlmodel import Session, select

from voice_agent.dialog import name_choice
from voice_agent.dialog.confidence import ConfidenceRecord
from voice_agent.dialog.spelling import LetterScores
from voice_agent.store.models import BookingIntent
from voice_agent.store.review import ReviewItem

from .test_existing_bookings import rig

# slot free -> name -> its spelling (a phone line) -> number -> the one confirmation -> yes
LINES = ["Hi, I'd like to book a haircut.", "Next Tuesday at 3 pm.", "Dana Smith.",
         "D, A, N, A, then S, M, I, T, H.", "That's fine.", "Yes please."]
# What the recogniser measured of that spelling's audio read as "Dana Smith"'s letters
# (benchmarks/name_capture.py, Piper voice, clean line).
DANA_LETTERS = LetterScores("Dana Smith", ((-0.54, -0.03, -1.34, -0.02, -3.96),
                                           (-0.36, -0.03, -0.06, -0.0, -0.01, -0.06)))

# Measured (Piper caller voice, clean line, the production listening prompt): the audio of
# "M, E, G, A, N, then F, O, S, T, E, R" came through as "M, A, G, A, N, N, F, O, S, T, D, R."
# and was read as the heard name, the census names nearest the letters and (some of) their
# rivals. Letter by letter it does not bear Megan Foster out (the E at -3.0, the second E
# at -3.6); among the names it could be, it singles it out.
MEGAN_AMONG_RIVALS = LetterScores.from_stats({"letter_scores": {
    "name": "Megan Foster",
    "letters": [
        [-0.0938, -3.0421, -0.2661, -0.0152, -0.1191, -4.9042],
        [-0.6151, -0.6274, -0.027, -0.0072, -3.5737, -0.0718, -0.0849]],
    "scored": {
        "Megan Foster": [
            [-0.0938, -3.0421, -0.2661, -0.0152, -0.1191, -4.9042],
            [-0.6151, -0.6274, -0.027, -0.0072, -3.5737, -0.0718, -0.0849]],
        "Magan Foster": [
            [-0.0938, -0.9286, -0.2249, -0.011, -0.1374, -4.7361],
            [-0.5987, -0.6926, -0.0335, -0.0076, -3.7822, -0.0735, -0.1072]],
        "Megan Oster": [
            [-0.0938, -3.0421, -0.2661, -0.0152, -0.1191, -4.9042],
            [-8.4372, -0.088, -0.01, -3.7134, -0.0853, -0.0347]],
        "Meghan Foster": [
            [-0.0938, -3.0421, -0.2661, -6.2884, -4.6662, -0.1328, -5.0303],
            [-0.642, -0.651, -0.0287, -0.0069, -3.6205, -0.0659, -0.0812]],
        "Meagan Foster": [
            [-0.0938, -3.0421, -7.2453, -5.5856, -0.0839, -0.1068, -5.0786],
            [-0.6244, -0.6517, -0.0291, -0.0074, -3.6171, -0.0608, -0.0758]],
    }}})

async def _book(r, logprob: float, lines: list[str] = LINES):
    r.manager.greeting()
    for line in lines:
        letters = DANA_LETTERS if r.manager.state.asked == "spell" else None
        turn = await r.manager.handle_turn(line, stt_avg_logprob=logprob, letters=letters)
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
            "I've noted your request for a haircut on Tuesday, December 1 at 3 PM. It isn't "
            "confirmed yet; a colleague will call you if there's any problem with it. Is there "
            "anything else?")
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


async def test_a_spelling_that_bears_the_name_out_verifies_it(tmp_path: Path) -> None:
    """Letters come through a phone line with rhyming letters confused (measured: "D, A, N,
    A, then S, M, I, T, H" as "T, A, M, A, D, F, M, I, T, H"); the audio, read as Dana
    Smith's letters, bears each of them out, so the booking is written under the name."""
    async with rig(tmp_path) as r:
        r.manager.greeting()
        for line in LINES[:3]:
            await r.manager.handle_turn(line, stt_avg_logprob=-0.3)
        spelled = await r.manager.handle_turn("T, A, M, A, D, F, M, I, T, H.",
                                              stt_avg_logprob=-0.4, letters=DANA_LETTERS)
        assert spelled.agent_text.startswith("Thanks, Dana Smith.")
        [check] = [e for e in spelled.policy_events if e["event"] == "name_spelling"]
        assert check["verified"] is True and check["letters"] == "tamadfmith"
        assert check["audio_letters"] == [list(w) for w in DANA_LETTERS.words]
        for line in LINES[4:]:
            turn = await r.manager.handle_turn(line, stt_avg_logprob=-0.3)
        [booking] = await r.calendar.find_bookings(phone="+15551230001")
        assert booking.name == "Dana Smith"
        [record] = [e for e in turn.policy_events if e["event"] == "booking_confidence"]
        assert record["name_stt_avg_logprob"] == -0.3 and record["name_unverified"] is False


async def test_a_spelling_that_contradicts_the_heard_name_sends_it_to_review(
        tmp_path: Path) -> None:
    """"Tina Smith" was heard; the caller spells D-A-N-A: the name is not written."""
    async with rig(tmp_path) as r:
        r.manager.greeting()
        for line in LINES[:2]:
            await r.manager.handle_turn(line, stt_avg_logprob=-0.3)
        asked = await r.manager.handle_turn("Tina Smith.", stt_avg_logprob=-0.5)
        assert "spell" in asked.agent_text and r.manager.state.asked == "spell"
        # The audio scored against the name heard ("Tina Smith"): the I is no A.
        tina = LetterScores("Tina Smith", ((-3.8, -3.9, -0.2, -0.3, -5.7), DANA_LETTERS.words[1]))
        spelled = await r.manager.handle_turn("D-A-N-A, then S-M-I-T-H.", stt_avg_logprob=-0.4,
                                              letters=tina)
        [check] = [e for e in spelled.policy_events if e["event"] == "name_spelling"]
        assert check["verified"] is False
        for line in LINES[4:]:
            turn = await r.manager.handle_turn(line, stt_avg_logprob=-0.3)
        assert r.manager.state.outcome == "pending_review"
        assert await r.calendar.find_bookings(phone="+15551230001") == []
        assert any(e["event"] == "sent_to_review" for e in turn.policy_events)


async def test_a_heard_name_never_spelled_goes_to_review(tmp_path: Path) -> None:
    """The caller answers the spelling request with something else: the agent moves on, and
    the booking under a name only heard is held for a human, not written."""
    async with rig(tmp_path) as r:
        lines = [*LINES[:3], "Sorry, what?", "That's fine.", "Yes please."]
        turn = await _book(r, logprob=-0.2, lines=lines)
        assert r.manager.state.outcome == "pending_review"
        assert await r.calendar.find_bookings(phone="+15551230001") == []
        [record] = [e for e in turn.policy_events if e["event"] == "booking_confidence"]
        assert record["name_unverified"] is True and record["score"] < 0.45


async def test_typed_names_are_not_spelled(tmp_path: Path) -> None:
    """Text (a transcript without STT statistics) needs no spelling."""
    async with rig(tmp_path) as r:
        r.manager.greeting()
        for line in [*LINES[:3], "That's fine."]:
            turn = await r.manager.handle_turn(line)
        assert "spell" not in turn.agent_text and "Shall I book" in turn.agent_text


def test_score_rules() -> None:
    assert ConfidenceRecord(explicit_confirmation=False).score() == 0.0
    sure = ConfidenceRecord(stt_avg_logprobs=[-0.1, -0.2], explicit_confirmation=True)
    assert sure.score() > 0.8
    muddled = ConfidenceRecord(stt_avg_logprobs=[-0.1], explicit_confirmation=True,
                               misunderstandings=3)
    assert muddled.score() < sure.score()
    only_heard = ConfidenceRecord(stt_avg_logprobs=[-0.1], explicit_confirmation=True,
                                  name_stt_avg_logprob=-0.2, name_unverified=True)
    assert only_heard.score() < 0.45
    llm = ConfidenceRecord(explicit_confirmation=True, llm_disagreements=2)
    assert llm.score() == 1.0 and llm.score(count_llm_disagreement=True) < 1.0


async def test_a_name_not_caught_is_spelled_and_held_for_review(tmp_path: Path) -> None:
    """Measured: "Ben Carter" came through as "Then, card." Rather than ask the same question
    until the caller is handed over, the agent has the name spelled; letters heard once are
    not a verified name, so the booking is held for a human with that name on it."""
    async with rig(tmp_path) as r:
        r.manager.greeting()
        for line in LINES[:2]:
            await r.manager.handle_turn(line, stt_avg_logprob=-0.3)
        asked = await r.manager.handle_turn("Then, card.", stt_avg_logprob=-0.54)
        assert "spell" in asked.agent_text and r.manager.state.asked == "spell"
        await r.manager.handle_turn("B, E, N, then C, A, R, T, E, R.", stt_avg_logprob=-0.3)
        assert r.manager.state.name == "Ben Carter"
        for line in LINES[4:]:
            await r.manager.handle_turn(line, stt_avg_logprob=-0.2)
        assert r.manager.state.outcome == "pending_review"
        assert await r.calendar.find_bookings(phone="+15551230001") == []


async def _spell(r, heard: str, spelling: str, letters: LetterScores) -> None:
    """Book a haircut on a phone line: the name comes through as ``heard``, then its
    spelling as ``spelling``, whose audio the recogniser scored as ``letters``."""
    r.manager.greeting()
    for line in LINES[:2]:
        await r.manager.handle_turn(line, stt_avg_logprob=-0.3)
    asked = await r.manager.handle_turn(heard, stt_avg_logprob=-0.3)
    assert "spell" in asked.agent_text and r.manager.state.asked == "spell"
    spelled = await r.manager.handle_turn(spelling, stt_avg_logprob=-0.4, letters=letters)
    [check] = [e for e in spelled.policy_events if e["event"] == "name_spelling"]
    r.check = check


async def test_the_census_name_a_spelling_singles_out_is_written(tmp_path: Path) -> None:
    """Letter by letter the audio does not bear Megan Foster out; among the names it could be
    (Magan, Meagan, Meghan Foster, Megan Oster...) it prefers her, heard the same when said:
    the booking is written under the name."""
    async with rig(tmp_path) as r:
        await _spell(r, "Megan Foster.", "M, A, G, A, N, N, F, O, S, T, D, R.",
                     MEGAN_AMONG_RIVALS)
        assert r.check["verified"] is True and r.check["chosen"]["name"] == "Megan Foster"
        assert r.check["chosen"]["margin"] > 2 and r.check["chosen"]["rival"]
        for line in LINES[4:]:
            turn = await r.manager.handle_turn(line, stt_avg_logprob=-0.3)
        [booking] = await r.calendar.find_bookings(phone="+15551230001")
        assert booking.name == "Megan Foster"
        [record] = [e for e in turn.policy_events if e["event"] == "booking_confidence"]
        assert record["name_unverified"] is False


def _heard_only(scores: LetterScores, job: int) -> LetterScores:
    """``scores`` as the recogniser hands them on at once: the heard name's own, the rest
    still being scored (job ``job``)."""
    return LetterScores(scores.name, scores.words, {scores.name: scores.words}, later=job)


async def test_the_rivals_scored_in_the_background_decide_the_name_at_the_booking(
        tmp_path: Path) -> None:
    """The names the spelling could otherwise be are scored while the agent replies; the
    spelling turn does not wait for them; the first turn after they are scored takes the
    name they single out (before it is read back), and the booking writes it."""
    async with rig(tmp_path) as r:
        rivals: asyncio.Future = asyncio.get_running_loop().create_future()
        r.manager.expect_name_rivals(7, rivals)
        await _spell(r, "Megan Foster.", "M, A, G, A, N, N, F, O, S, T, D, R.",
                     _heard_only(MEGAN_AMONG_RIVALS, 7))
        assert r.check["verified"] is False and r.check["choice_later"] is True
        rivals.set_result({n: w for n, w in MEGAN_AMONG_RIVALS.scored.items()
                           if n != "Megan Foster"})
        events = []
        for line in LINES[4:]:
            turn = await r.manager.handle_turn(line, stt_avg_logprob=-0.3)
            events += turn.policy_events
        [choice] = [e for e in events if e["event"] == "name_choice"]
        assert choice["chosen"]["name"] == "Megan Foster" and choice["scored"] == 5
        [booking] = await r.calendar.find_bookings(phone="+15551230001")
        assert booking.name == "Megan Foster"
        [record] = [e for e in turn.policy_events if e["event"] == "booking_confidence"]
        assert record["name_unverified"] is False


async def test_rivals_not_scored_in_time_leave_the_name_unverified(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A booking waits for the rivals' scores only so long: then it goes ahead with the
    name unverified, to review, never written on a guess. Scores for another spelling
    (another job) are not taken for this one."""
    monkeypatch.setattr(name_choice, "RIVALS_WAIT_S", 0.05)
    async with rig(tmp_path) as r:
        never: asyncio.Future = asyncio.get_running_loop().create_future()
        r.manager.expect_name_rivals(1, never)
        await _spell(r, "Megan Foster.", "M, A, G, A, N, N, F, O, S, T, D, R.",
                     _heard_only(MEGAN_AMONG_RIVALS, 1))
        assert r.check["choice_later"] is True
        for line in LINES[4:]:
            turn = await r.manager.handle_turn(line, stt_avg_logprob=-0.3)
        [choice] = [e for e in turn.policy_events if e["event"] == "name_choice"]
        assert choice == {"event": "name_choice", "chosen": None, "error": "TimeoutError"}
        assert r.manager.state.outcome == "pending_review"
        assert await r.calendar.find_bookings(phone="+15551230001") == []
    (tmp_path / "other").mkdir()
    async with rig(tmp_path / "other") as r:
        done: asyncio.Future = asyncio.get_running_loop().create_future()
        done.set_result(dict(MEGAN_AMONG_RIVALS.scored))
        r.manager.expect_name_rivals(2, done)
        await _spell(r, "Megan Foster.", "M, A, G, A, N, N, F, O, S, T, D, R.",
                     _heard_only(MEGAN_AMONG_RIVALS, 3))
        assert r.check["choice_later"] is False
        never.cancel()
