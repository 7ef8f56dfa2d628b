"""Keypad answers: exact where speech is not, and never guessed at."""

from __future__ import annotations

from pathlib import Path

from voice_agent.dialog.keypad import read_keys, spoken_digits

from .test_existing_bookings import rig
from .test_review_routing import DANA_LETTERS


def test_keys_read_as_the_answer_to_the_question_asked() -> None:
    assert read_keys("1", "confirm").affirm and read_keys("2", "confirm").deny
    assert read_keys("5551230009#", "phone").phone == "5551230009"
    assert not read_keys("1", "time").understood_anything  # 1 answers no time question
    assert read_keys("55#", "phone").phone is None  # too short for a number
    assert not read_keys("3", "confirm").understood_anything


def test_numbers_are_read_back_in_groups() -> None:
    assert spoken_digits("+15551230009") == "1, 5 5 5, 1 2 3, 0 0 0 9"
    assert spoken_digits("5551230009") == "5 5 5, 1 2 3, 0 0 0 9"
    assert spoken_digits("07700900123") == "0 7 7 0 0, 9 0 0 1 2 3"


async def test_a_typed_number_and_a_pressed_one_book_over_the_phone(tmp_path: Path) -> None:
    """No caller ID: the agent offers the keypad, reads the typed number back, and takes 1 for
    yes at the confirmation."""
    async with rig(tmp_path, caller=None) as r:
        r.manager.greeting()
        for line in ["Hi, I'd like to book a haircut.", "Next Tuesday at 3 pm.", "Dana Smith.",
                     "T, A, M, A, D, F, M, I, T, H."]:
            letters = DANA_LETTERS if r.manager.state.asked == "spell" else None
            turn = await r.manager.handle_turn(line, stt_avg_logprob=-0.2, letters=letters)
        assert "keypad" in turn.agent_text and r.manager.state.asked == "phone"
        typed = await r.manager.handle_turn("", keys="5551230009#")
        assert "5 5 5, 1 2 3, 0 0 0 9" in typed.agent_text and "Shall I book" in typed.agent_text
        done = await r.manager.handle_turn("", keys="1")
        assert "You're all set" in done.agent_text
        [booking] = await r.calendar.find_bookings(phone="5551230009")
        assert booking.name == "Dana Smith"


class SlowLLM:
    """An LLM server that takes longer to answer than a caller should wait in silence."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s

    async def handler(self, request):
        import asyncio

        import httpx

        await asyncio.sleep(self.delay_s)
        return httpx.Response(500)


async def test_a_slow_free_reply_gives_way_to_the_clarifying_question(tmp_path: Path) -> None:
    """Nothing certain to do and the LLM is slow: past the reply budget the caller hears the
    policy's clarifying question instead of silence."""
    async with rig(tmp_path, llm=SlowLLM(delay_s=5)) as r:
        r.manager.client.options.reply_budget_s = 0.2
        r.manager.greeting()
        turn = await r.manager.handle_turn("Hmm, blue whales are big.")
        assert any(e["event"] == "llm_reply_timeout" for e in turn.policy_events)
        assert turn.agent_text and "?" in turn.agent_text
