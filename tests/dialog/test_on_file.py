"""A name heard over the phone that matches the caller's record is taken as the record spells
it: no spelling asked, no review item. A near miss (how a mishearing looks) is no match."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlmodel import Session, select

from connectors.base import ConnectorError
from voice_agent.dialog.on_file import name_on_file
from voice_agent.store.review import ReviewItem

from .test_existing_bookings import CALLER, NY, WED_HAIRCUT, entry, rig


@pytest.mark.parametrize(("heard", "record"), [
    ("John Smith", "John Smith"),
    ("Jon Smyth", "John Smith"),
    ("Megan Foster", "Meghan Foster"),
    ("Emily Clark", "Emily Clarke"),
    ("Katherine Doyle", "Catherine Doyle"),
    ("Poppy Sinclare", "Poppy Sinclair"),
    ("lukasz wojcik", "Łukasz Wójcik"),
    ("Mary-Ann Lee", "Mary Ann Lee"),
    ("Owen Philips", "Owen Phillips"),
    ("Carla Jensen", "Carla Janssen"),  # a long surname that sounds the same
])
def test_a_name_heard_close_to_the_record_is_the_record(heard: str, record: str) -> None:
    assert name_on_file(heard, [record]) == record


@pytest.mark.parametrize(("heard", "record"), [
    ("Tina Smith", "Dana Smith"),  # whisper's Tina for Dana: two letters in a short word
    ("Donna Smith", "Dana Smith"),
    ("Dan Smith", "Dana Smith"),  # another name, maybe of the same household
    ("Carl Smith", "Carla Smith"),
    ("Jan Smith", "Jen Smith"),
    ("Ben Carter", "Ken Carter"),  # one letter, but not the same first sound
    ("Dana", "Dana Smith"),  # not the whole name
    ("Dana Smith Jones", "Dana Smith"),
    ("Carla Jensen", "Carl Janssen"),
    ("", "Dana Smith"),
])
def test_a_near_miss_is_no_match(heard: str, record: str) -> None:
    assert name_on_file(heard, [record]) is None


def test_two_people_on_file_who_both_match_are_no_match() -> None:
    assert name_on_file("Jon Smyth", ["Jon Smith", "John Smyth"]) is None
    assert name_on_file("Jon Smith", ["John Smith", "John Smith", "Ann Smith"]) == "John Smith"
    assert name_on_file("Jon Smith", []) is None


LINES = ["Hi, I'd like to book a haircut.", "Next Tuesday at 3 pm."]
FRIDAY = entry("haircut", datetime(2026, 11, 27, 11, 0, tzinfo=NY), name="John Smith")


async def _phone_call(r, name_line: str) -> list:
    r.manager.greeting()
    turns = [await r.manager.handle_turn(line, stt_avg_logprob=-0.2) for line in LINES]
    turns.append(await r.manager.handle_turn(name_line, stt_avg_logprob=-0.2))
    return turns


async def test_a_returning_caller_s_name_is_taken_as_on_file_and_booked(tmp_path: Path) -> None:
    async with rig(tmp_path, calendar=[FRIDAY]) as r:
        turns = await _phone_call(r, "Jon Smyth.")
        assert "spell" not in turns[-1].agent_text  # on to the number
        assert r.manager.state.name == "John Smith" and r.manager.state.name_on_file
        for line in ("That's fine.", "Yes please."):
            turn = await r.manager.handle_turn(line, stt_avg_logprob=-0.2)
        assert turn.agent_text.startswith("You're all set, John Smith: a haircut on Tuesday")
        names = [b.name for b in await r.calendar.find_bookings(phone=CALLER)]
        assert sorted(names) == ["John Smith", "John Smith"]
        with Session(r.store) as session:
            assert session.exec(select(ReviewItem)).all() == []


async def test_a_name_unlike_the_record_is_spelled_as_usual(tmp_path: Path) -> None:
    async with rig(tmp_path, calendar=[WED_HAIRCUT]) as r:  # Dana Smith on file
        turns = await _phone_call(r, "Tina Smith.")
        assert "spell" in turns[-1].agent_text
        assert r.manager.state.name == "Tina Smith" and not r.manager.state.name_on_file


async def test_typed_names_are_taken_as_typed(tmp_path: Path) -> None:
    async with rig(tmp_path, calendar=[FRIDAY]) as r:
        r.manager.greeting()
        for line in [*LINES, "Jon Smyth."]:
            await r.manager.handle_turn(line)
        assert r.manager.state.name == "Jon Smyth"


class LookupFails:
    """The calendar answers everything but the lookup of the caller's bookings."""

    def __init__(self, inner) -> None:
        self.inner, self.capabilities = inner, inner.capabilities

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    async def find_bookings(self, **kwargs):
        raise ConnectorError("calendar unreachable", retryable=True)


async def test_a_failed_lookup_only_means_the_name_is_spelled(tmp_path: Path) -> None:
    async with rig(tmp_path, calendar=[FRIDAY], wrap=LookupFails) as r:
        turns = await _phone_call(r, "Jon Smyth.")
        assert "spell" in turns[-1].agent_text
        assert r.manager.state.names_on_file == []
