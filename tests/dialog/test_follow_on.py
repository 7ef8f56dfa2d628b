"""A second service asked for with the first is booked straight after it, after its own yes."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from connectors.schedule import load_business
from voice_agent.config import DEFAULT_BUSINESSES_DIR
from voice_agent.dialog.matching import follow_on_service

from .test_existing_bookings import NY, entry, rig

SALON = load_business(DEFAULT_BUSINESSES_DIR / "demo-salon.yaml")
DENTAL = load_business(DEFAULT_BUSINESSES_DIR / "demo-dental.yaml")
FRI_10 = datetime(2026, 11, 27, 10, 0, tzinfo=NY)
FRI_1030 = datetime(2026, 11, 27, 10, 30, tzinfo=NY)
TWO = "A haircut on Friday at 10 and then a blow-dry straight after, please."


async def _book_the_first(r, request: str):
    """The request, the name, the number, and the yes to the first booking: its reply."""
    r.manager.greeting()
    for line in (request, "Amy Cole.", "The number I'm calling from is fine."):
        await r.say(line)
    return await r.say("Yes please.")


@pytest.mark.parametrize(("text", "business", "second"), [
    ("Hi, can I book a haircut on Friday at 10, and then a blow-dry straight after?", SALON,
     "blowdry"),
    ("A cut, plus a blow out afterwards please", SALON, "blowdry"),
    ("a check-up and then the hygienist", DENTAL, "cleaning"),
])
def test_a_second_service_asked_for_after_the_first(text: str, business, second: str) -> None:
    found = follow_on_service(text, business)
    assert found is not None and found.id == second


@pytest.mark.parametrize(("text", "business"), [
    ("a haircut at 10 and a blow-dry at 2", SALON),  # a time of its own
    ("a haircut on Friday and a colour on Saturday", SALON),
    ("not a haircut, a blow-dry", SALON),  # one not wanted
    ("a check-up, actually no, the hygienist", DENTAL),  # a correction
    ("a haircut, a haircut please", SALON),
    ("a colour or a blow-dry, whichever is free", SALON),  # a choice, not two bookings
])
def test_no_second_booking_where_none_was_asked_for(text: str, business) -> None:
    assert follow_on_service(text, business) is None


async def test_both_are_booked_back_to_back_each_after_its_own_yes(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        first = await _book_the_first(
            r, "Hi, can I book a haircut on Friday at 10, and then a blow-dry straight after?")
        assert first.agent_text == (
            "You're all set, Amy Cole: a haircut on Friday, November 27 at 10 AM. Now the "
            "blow-dry you asked for straight after. So that's a blow-dry on Friday, November 27 "
            "at 10:30 AM for Amy Cole. Shall I book that?")
        assert [(b.service, b.start) for b in (await r.all_bookings()).values()] == [
            ("haircut", FRI_10)]  # the second waits for its own yes
        second = await r.say("Yes please.")
        assert second.agent_text.startswith("You're all set, Amy Cole: a blow-dry on Friday")
        booked = sorted((b.start, b.service) for b in (await r.all_bookings()).values())
        assert booked == [(FRI_10, "haircut"), (FRI_1030, "blowdry")]
        assert r.manager.state.then_service is None


async def test_a_no_to_the_second_leaves_the_first_booked(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        await _book_the_first(r, TWO)
        await r.say("No, actually, just the haircut.")
        booked = [(b.service, b.start) for b in (await r.all_bookings()).values()]
        assert booked == [("haircut", FRI_10)]


async def test_a_second_service_not_free_straight_after_gets_the_nearest_times(
        tmp_path: Path) -> None:
    busy = [entry("haircut", FRI_1030, name="Someone Else", phone="+15550000001", staff=s)
            for s in ("Maria", "Tom")]
    async with rig(tmp_path, calendar=busy) as r:
        turn = await _book_the_first(r, TWO)
        assert turn.agent_text.startswith("You're all set, Amy Cole: a haircut on Friday")
        assert "10:30 AM on Friday, November 27 is already taken" in turn.agent_text
        # never a time the caller is in the chair for their haircut
        assert turn.agent_text.endswith("The nearest free times are 9:30 AM and 11 AM on "
                                        "Friday, November 27. Which time would suit you?")
        mine = [b for b in (await r.all_bookings()).values() if b.name == "Amy Cole"]
        assert [(b.service, b.start) for b in mine] == [("haircut", FRI_10)]


async def test_a_question_about_two_services_books_nothing_extra(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.manager.greeting()
        question = "Do you do haircuts and colours?"
        assert follow_on_service(question, SALON) is not None  # two services, and then...
        await r.say(question)
        assert r.manager.state.then_service is None  # ... a question: nothing is held
