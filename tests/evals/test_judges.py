"""The judges decide from the transcript, the script's labels and the calendar only."""

from __future__ import annotations

import datetime as dt

import pytest

from connectors.base import Booking
from connectors.schedule import load_business
from evals.forbidden import TurnLog, forbidden_events, is_yes_label, mentions_slot
from evals.outcome import wrong_actions
from evals.script import CallScript
from voice_agent.config import DEFAULT_BUSINESSES_DIR

SALON = load_business(DEFAULT_BUSINESSES_DIR / "demo-salon.yaml")
NY = SALON.tz
TODAY = dt.date(2026, 11, 23)
TUE_3PM = dt.datetime(2026, 12, 1, 15, 0, tzinfo=NY)


def booking(start: dt.datetime, *, id: str = "b1", service: str = "haircut",
            name: str = "Dana Smith", staff: str | None = "Maria") -> Booking:
    minutes = SALON.service(service).minutes
    return Booking(id=id, business="demo-salon", service=service, start=start,
                   end=start + dt.timedelta(minutes=minutes), name=name, phone="+15551230001",
                   staff=staff, status="booked")


def script(expect: dict, calendar: list | None = None) -> CallScript:
    return CallScript.model_validate({
        "id": "t", "business": "demo-salon", "now": "2026-11-23T09:00:00-05:00",
        "calendar": calendar or [],
        "caller": {"phone": "+15551230001", "facts": {"name": "Dana Smith"},
                   "turns": [{"say": "Hi"}]},
        "expect": expect,
    })


PROPOSAL = "I can book a haircut on Tuesday, December 1 at 3 PM for Dana Smith. Shall I book it?"


def events(turns: list[TurnLog], new: list[Booking], **kw) -> list[str]:
    return forbidden_events(business=SALON, today=TODAY, turns=turns, new_bookings=new,
                            all_bookings=new, greeting="Hello, how can I help?", **kw)


def test_a_yes_labelled_line_after_the_proposal_confirms_it() -> None:
    turns = [TurnLog("A haircut Tuesday at 3.", PROPOSAL, ["check_availability"], None),
             TurnLog("Yes please.", "You're all set.", ["book_appointment"], "confirm")]
    assert events(turns, [booking(TUE_3PM)]) == []


def test_the_same_words_without_the_confirm_label_are_not_a_yes() -> None:
    """The judge does not read "yes" itself: only the script's label counts."""
    turns = [TurnLog("A haircut Tuesday at 3.", PROPOSAL, ["check_availability"], None),
             TurnLog("Yes please.", "You're all set.", ["book_appointment"], None)]
    assert events(turns, [booking(TUE_3PM)]) == ["unconfirmed_booking"]


def test_a_yes_to_another_slot_does_not_confirm_this_one() -> None:
    other = PROPOSAL.replace("3 PM", "4 PM")
    turns = [TurnLog("Tuesday at 3 or 4.", other, ["check_availability"], None),
             TurnLog("Yes.", "Booked.", ["book_appointment"], "confirm")]
    assert events(turns, [booking(TUE_3PM)]) == ["unconfirmed_booking"]


def test_audio_mode_judges_what_the_caller_heard() -> None:
    turns = [TurnLog("heard garbage", "whatever the server logged", ["check_availability"]),
             TurnLog("yes", "Booked.", ["book_appointment"])]
    heard = [("Hello.", None), ("A haircut on Tuesday, December 1 at 3 p.m. Shall I book it?",
                                "repeat:confirm")]
    assert events(turns, [booking(TUE_3PM)], heard=heard) == []


@pytest.mark.parametrize(("label", "yes"), [
    ("confirm", True), ("repeat:confirm", True), ("facts:confirm", True),
    ("facts:name,confirm", True), ("name", False), ("facts:phone", False), (None, False)])
def test_yes_labels(label: str | None, yes: bool) -> None:
    assert is_yes_label(label) is yes


def test_mentions_slot_reads_the_agents_words() -> None:
    assert mentions_slot("Tuesday, December 1 at 3 PM", TUE_3PM, TODAY)
    assert mentions_slot("tuesday december 1st at 3pm", TUE_3PM, TODAY)
    assert not mentions_slot("Tuesday, December 1 at 3:30 PM", TUE_3PM, TODAY)
    assert not mentions_slot("Wednesday, December 2 at 3 PM", TUE_3PM, TODAY)
    assert mentions_slot("tomorrow at 10 AM", dt.datetime(2026, 11, 24, 10, tzinfo=NY), TODAY)


def test_mentions_slot_reads_a_time_written_with_a_dot() -> None:
    """Whisper hearing the agent's audio writes "11:45 AM" as "11.45 a.m." at times."""
    tue_1145 = TUE_3PM.replace(hour=11, minute=45)
    assert mentions_slot("So that's Tuesday, December 1 at 11.45 a.m. Shall I book that?",
                         tue_1145, TODAY)
    assert not mentions_slot("Tuesday, December 1 at 11.15 a.m.", tue_1145, TODAY)
    # as the caller's ear wrote a confirmed 4:15 PM (judged unconfirmed until this was read)
    tue_415 = TUE_3PM.replace(hour=16, minute=15)
    assert mentions_slot("So that's a hygienist cleaning on Tuesday December 1 at 4.15pm. "
                         "Shall I book that?", tue_415, TODAY)


def test_a_booking_on_the_wrong_day_is_a_wrong_action() -> None:
    s = script({"outcome": "booked", "booking": {"service": "haircut",
                                                 "start": TUE_3PM.isoformat()}})
    assert wrong_actions(s, [], [booking(TUE_3PM)]) == []
    wrong = wrong_actions(s, [], [booking(TUE_3PM + dt.timedelta(days=1))])
    assert len(wrong) == 1 and wrong[0].startswith("booked haircut")


def test_a_booking_when_none_was_wanted_is_a_wrong_action() -> None:
    s = script({"outcome": "no_booking"})
    assert wrong_actions(s, [], [booking(TUE_3PM)]) == [
        f"booked haircut at {TUE_3PM.isoformat()} (the script expects no new booking)"]


def test_cancelling_the_booking_the_caller_keeps_is_a_wrong_action() -> None:
    keep = booking(TUE_3PM, id="keep", service="color")
    drop = booking(TUE_3PM + dt.timedelta(days=2), id="drop")
    s = script({"outcome": "cancelled",
                "cancelled": {"service": "haircut", "start": drop.start.isoformat()},
                "kept": [{"service": "color", "start": keep.start.isoformat()}]})
    assert wrong_actions(s, [keep, drop], [keep]) == []
    wrong = wrong_actions(s, [keep, drop], [drop])
    assert wrong == [f"cancelled color at {keep.start.isoformat()}, which the script does not "
                     "name"]


def test_a_move_to_the_expected_slot_is_not_a_wrong_action_but_to_another_is() -> None:
    old = booking(TUE_3PM)
    s = script({"outcome": "rescheduled",
                "booking": {"service": "haircut",
                            "start": (TUE_3PM + dt.timedelta(days=3)).isoformat()},
                "cancelled": {"service": "haircut", "start": TUE_3PM.isoformat()}})
    moved = booking(TUE_3PM + dt.timedelta(days=3))
    assert wrong_actions(s, [old], [moved]) == []
    elsewhere = booking(TUE_3PM + dt.timedelta(days=3, hours=1))
    wrong = wrong_actions(s, [old], [elsewhere])
    assert len(wrong) == 1 and wrong[0].startswith("moved haircut")


def test_also_booked_entries_must_exist() -> None:
    """EVAL_FORMAT: ``also_booked`` entries must exist after the call; the main booking alone
    does not make the call correct."""
    import datetime as dt

    from connectors.base import Booking
    from evals.outcome import judge
    from evals.script import CallScript

    start = dt.datetime(2026, 11, 27, 10, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    script = CallScript.model_validate({
        "id": "two", "business": "demo-salon", "now": start - dt.timedelta(days=4),
        "caller": {"phone": "+15550000001", "facts": {"name": "Amy Cole"},
                   "turns": [{"say": "a haircut at 10 and a blow-dry straight after"}]},
        "expect": {"outcome": "booked",
                   "booking": {"service": "haircut", "start": start, "name": "Amy Cole"},
                   "also_booked": [{"service": "blowdry",
                                    "start": start + dt.timedelta(minutes=30)}]}})

    def entry(service: str, at: dt.datetime) -> Booking:
        return Booking(id=service, business="demo-salon", service=service, start=at,
                       end=at + dt.timedelta(minutes=30), name="Amy Cole",
                       phone="+15550000001", staff="Maria", status="booked")

    haircut = entry("haircut", start)
    only_one = judge(script, [haircut], observed_outcome="booked")
    assert not only_one.outcome_correct and only_one.booking_fields_correct is False
    both = judge(script, [haircut, entry("blowdry", start + dt.timedelta(minutes=30))],
                 observed_outcome="booked")
    assert both.outcome_correct and both.booking_fields_correct
