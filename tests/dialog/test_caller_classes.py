"""Classes of callers, one mechanism of the dialog each: picking an offered option, bounds
("the earliest", "after 3"), a staff member, booking for someone else, spelled and non-ASCII
names, "I don't know" against "whatever you have", questions about the business, "I can't
make it", the owner check on a booking found by name, "keep the colour", moves (to the day
wanted, at the same time), the two readings disagreeing, and a caller who hangs up.

Policy-level tests drive ``BookingPolicy`` with the ``Call`` helper of ``test_policy`` (the
turn's leads merged into its reply, as the manager does); call-level tests go through
``DialogManager.handle_turn`` on the real calendar and outbox (the rig of
``test_existing_bookings``). Today is Monday 2026-11-23 at demo-salon (New York), 09:00.
"""

from __future__ import annotations

import time as _time
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from connectors.base import Booking, Slot
from connectors.schedule import Business
from voice_agent.dialog.llm_reading import LLMReading, ReadingContext, When
from voice_agent.dialog.merge import Conflict
from voice_agent.dialog.policy import Book, Check, Find
from voice_agent.dialog.replies import Say
from voice_agent.dialog.timeparse import TimeOfDay
from voice_agent.dialog.understanding import Constraint, understand
from voice_agent.store.review import ReviewItem

from .test_existing_bookings import NY, WED_HAIRCUT, Rig, entry, rig
from .test_policy import CALLER, NEXT_TUE, TODAY, TOMORROW, Call, at, free_slots

WED = date(2026, 11, 25)
THU = date(2026, 11, 26)
FRI = date(2026, 11, 27)
OTHER_NUMBER = "+15559990000"
WED_2PM = Booking(id="b1", business="demo-salon", service="haircut", start=at(WED, 14),
                  end=at(WED, 14, 30), name="Dana Smith", phone=CALLER, staff="Maria",
                  status="booked")

ASK_NAME = "Can I have your name for the booking, please?"
ASK_PHONE_0001 = ("And shall we use the number you're calling from, ending in 0 0 0 1, "
                  "or is there a better number to reach you?")


def said(call: Call, say: Any) -> str:
    assert isinstance(say, Say), say
    return call.render(say)


def slot_args(day: str, time_: str, name: str = "", service: str = "haircut") -> dict[str, str]:
    return {"service": service, "day": day, "time": time_, "name": name}


def staff_slots(business: Business, day: date, staff: str, *,
                taken: tuple[time, ...] = ()) -> list[Slot]:
    """The day's free haircut starts of one staff member (what a staff-restricted check
    returns)."""
    return [Slot(s.start, s.end, staff) for s in free_slots(business, day, taken=taken)]


def afternoon_offer(call: Call) -> Say:
    """A haircut tomorrow afternoon: 12 PM, 2 PM and 4:30 PM are offered."""
    d = call.say("I'd like a haircut tomorrow afternoon")
    say = call.check(d, free_slots(call.business, TOMORROW))
    assert say.key == "offer_times"
    assert [s.start for s in call.state.offered_times] == [
        at(TOMORROW, 12), at(TOMORROW, 14), at(TOMORROW, 16, 30)]
    return say


async def texts(r: Rig, lines: list[str]) -> list[str]:
    return [(await r.say(line)).agent_text for line in lines]


def review_items(r: Rig) -> list[ReviewItem]:
    with Session(r.store) as session:
        return list(session.exec(select(ReviewItem)))


# -- options: "the second one", "the later one", "the last one" ------------------------------


@pytest.mark.parametrize(("text", "hour", "minute"), [
    ("the first one", 12, 0), ("The second one, please.", 14, 0), ("option two", 14, 0),
    ("the third one", 16, 30), ("I'll take the last one", 16, 30),
    ("the later one", 16, 30),
])
def test_an_option_holds_that_offered_time(call: Call, text: str, hour: int, minute: int) -> None:
    afternoon_offer(call)
    d = call.say(text)
    assert isinstance(d, Say) and d.key == "slot_free_ask_name" and d.asked == "name"
    assert call.state.offer is not None and call.state.offer.start == at(TOMORROW, hour, minute)
    assert not call.state.confirmed


def test_the_second_one_is_said_back_as_free_before_the_name(call: Call) -> None:
    afternoon_offer(call)
    assert said(call, call.say("The second one, please.")) == (
        f"2 PM tomorrow is free for a haircut. {ASK_NAME}")


def test_the_later_of_two_alternatives(call: Call) -> None:
    call.say("I'd like a haircut")
    d = call.say("next Tuesday at 3 pm")
    say = call.check(d, free_slots(call.business, NEXT_TUE, taken=(time(15, 0),)))
    assert say.key == "slot_taken"  # 2:30 PM and 3:30 PM offered instead
    d = call.say("the later one")
    assert isinstance(d, Say) and d.key == "slot_free_ask_name"
    assert call.state.offer is not None and call.state.offer.start == at(NEXT_TUE, 15, 30)


def test_another_option_while_one_is_held_switches_to_it(call: Call) -> None:
    afternoon_offer(call)
    call.say("the second one")
    d = call.say("actually, the first one")
    assert isinstance(d, Say) and d.key == "slot_free_ask_name"
    assert call.state.offer is not None and call.state.offer.start == at(TOMORROW, 12)


def test_an_option_is_not_picked_from_stale_times(call: Call) -> None:
    afternoon_offer(call)
    assert call.state.availability is not None
    call.state.availability.checked_at -= 1_000  # the times offered may have gone since
    d = call.say("the second one")
    assert d == Check("haircut", TOMORROW, None)  # checked again, nothing held
    assert call.state.offer is None


def test_an_option_beyond_those_offered_holds_nothing(call: Call) -> None:
    call.say("I'd like a haircut")
    call.check(call.say("next Tuesday at 3 pm"),
               free_slots(call.business, NEXT_TUE, taken=(time(15, 0),)))  # two alternatives
    d = call.say("the third one")
    assert isinstance(d, Say) and d.key == "slot_taken"  # the two alternatives, said again
    assert [s.start for s in call.state.offered_times] == [at(NEXT_TUE, 14, 30),
                                                           at(NEXT_TUE, 15, 30)]
    assert call.state.offer is None


# -- bounds: the earliest, after, before -------------------------------------------------------


def test_earliest_with_no_day_checks_from_today(call: Call) -> None:
    d = call.say("What's the earliest you have for a haircut?")
    assert d == Check("haircut", TODAY, None)
    assert call.state.constraint == Constraint("earliest")
    today_left = [s for s in free_slots(call.business, TODAY) if s.start.hour >= 10]
    say = call.check(d, today_left)
    assert say.lead == [("first_free", slot_args("today", "10 AM"))]
    assert say.key == "ask_name_plain" and say.asked == "name"
    assert call.state.offer is not None and call.state.offer.start == at(TODAY, 10)
    assert said(call, say).startswith("The first time I have for a haircut today is 10 AM. ")


def test_earliest_falls_to_the_next_days_when_today_is_full(call: Call) -> None:
    d = call.say("As soon as possible, a haircut please")
    assert d == Check("haircut", TODAY, None)
    say = call.check(d, [], free_slots(call.business, TOMORROW)[:2])
    assert say.lead == [("first_free", slot_args("tomorrow", "9 AM"))]
    assert call.state.offer is not None and call.state.offer.start == at(TOMORROW, 9)
    assert call.state.day == TOMORROW
    assert said(call, say).startswith("The first time I have for a haircut tomorrow is 9 AM. ")


def test_earliest_on_a_named_day(call: Call) -> None:
    d = call.say("What's the earliest haircut you have on Wednesday?")
    assert d == Check("haircut", WED, None)
    say = call.check(d, free_slots(call.business, WED, taken=(time(9, 0),)))
    assert say.lead == [("first_free", slot_args("Wednesday, November 25", "9:30 AM"))]
    assert call.state.offer is not None and call.state.offer.start == at(WED, 9, 30)


def test_the_latest_time(call: Call) -> None:
    d = call.say("What's the latest you can do a haircut tomorrow?")
    say = call.check(d, free_slots(call.business, TOMORROW))
    assert say.lead == [("last_free", slot_args("tomorrow", "5:30 PM"))]
    assert call.state.offer is not None and call.state.offer.start == at(TOMORROW, 17, 30)


@pytest.mark.parametrize(("text", "times"), [
    ("A haircut tomorrow after 3 pm, please", "3 PM, 4 PM and 5:30 PM"),
    ("A haircut tomorrow before 11, please", "9 AM, 10 AM and 10:30 AM"),
    ("A haircut tomorrow between 1 and 3, please", "1 PM, 2 PM and 2:30 PM"),
])
def test_a_bound_offers_only_times_within_it(call: Call, text: str, times: str) -> None:
    d = call.say(text)
    assert d == Check("haircut", TOMORROW, None)  # a bound, not a time to check
    say = call.check(d, free_slots(call.business, TOMORROW))
    assert say.key == "offer_times"
    assert said(call, say) == (
        f"Tomorrow I have {times} free for a haircut. Which time would you like?")


def test_one_time_within_the_bound_is_held(call: Call) -> None:
    say = call.check(call.say("A haircut tomorrow after 5:30, please"),
                     free_slots(call.business, TOMORROW))
    assert say.key == "slot_free_ask_name"
    assert call.state.offer is not None and call.state.offer.start == at(TOMORROW, 17, 30)


def test_nothing_within_the_bound_offers_the_next_days_within_it(call: Call) -> None:
    d = call.say("A haircut tomorrow after 5, please")
    early = [s for s in free_slots(call.business, TOMORROW) if s.start.hour < 17]
    later = [s for s in free_slots(call.business, WED) if s.start.hour >= 17][:2]
    say = call.check(d, early, later)
    assert say.key == "no_times_constraint" and say.asked == "time"
    assert said(call, say) == (
        "I'm sorry, I have nothing after 5 PM tomorrow for a haircut. The nearest free times "
        "are 5 PM and 5:30 PM on Wednesday, November 25. Which time would suit you?")
    assert call.state.offer is None


async def test_the_soonest_late_in_the_day_is_tomorrow_morning(tmp_path: Path) -> None:
    late = datetime(2026, 11, 23, 17, 45, tzinfo=NY)  # the last haircut today starts 5:30
    async with rig(tmp_path, now=late) as r:
        r.manager.greeting()
        t = await r.say("What's the earliest you can do a haircut?")
        assert t.agent_text.startswith("The first time I have for a haircut tomorrow is 9 AM.")
        [check] = t.tool_calls
        assert check["arguments"] == {"service": "haircut", "date": "2026-11-23"}
        assert check["result"]["free"] == [] and check["result"]["later"][0].startswith(
            "2026-11-24T09:00")
        await texts(r, ["Dana Smith", "That's fine."])
        t = await r.say("Yes")
        assert t.agent_text.startswith("You're all set, Dana Smith: a haircut tomorrow at 9 AM.")
        [booking] = await r.calendar.find_bookings(phone=CALLER)
        assert booking.start == at(TOMORROW, 9) and booking.name == "Dana Smith"


# -- a staff member asked for ------------------------------------------------------------------


def test_a_staff_member_restricts_the_check_and_is_named_back(call: Call) -> None:
    d = call.say("A haircut with Tom tomorrow at 3, please")
    assert d == Check("haircut", TOMORROW, at(TOMORROW, 15), "Tom")
    say = call.check(d, staff_slots(call.business, TOMORROW, "Tom"))
    assert said(call, say) == f"3 PM tomorrow is free for a haircut with Tom. {ASK_NAME}"
    call.say("Dana Smith")
    d = call.say("That's fine.")
    assert said(call, d) == (
        "So that's a haircut tomorrow at 3 PM with Tom for Dana Smith. Shall I book that?")
    assert call.state.offer is not None and call.state.offer.staff == "Tom"


def test_staff_busy_names_who_is_free_then(call: Call) -> None:
    d = call.say("A haircut with Tom tomorrow at 3, please")
    say = call.check(d, staff_slots(call.business, TOMORROW, "Tom", taken=(time(15, 0),)),
                     others_free=["Maria"])
    assert say.key == "staff_busy" and say.asked == "time"
    assert said(call, say) == (
        "I'm sorry, Tom isn't free at 3 PM tomorrow, but Maria is. The nearest free times are "
        "2:30 PM and 3:30 PM tomorrow. Which time would suit you?")
    assert call.state.offer is None


def test_staff_busy_and_nobody_else_free(call: Call) -> None:
    d = call.say("A haircut with Tom tomorrow at 3, please")
    say = call.check(d, staff_slots(call.business, TOMORROW, "Tom", taken=(time(15, 0),)),
                     others_free=[])
    assert said(call, say) == (
        "I'm sorry, Tom isn't free at 3 PM tomorrow. The nearest free times are 2:30 PM and "
        "3:30 PM tomorrow. Which time would suit you?")


def test_asking_for_a_staff_member_while_a_slot_is_held_checks_again(call: Call) -> None:
    call.check(call.say("A haircut tomorrow at 3, please"), free_slots(call.business, TOMORROW))
    assert call.state.offer is not None and call.state.offer.staff == "Maria"
    d = call.say("Could I have Tom instead?")
    assert d == Check("haircut", TOMORROW, at(TOMORROW, 15), "Tom")
    assert call.state.offer is None and call.state.staff == "Tom"


def test_times_checked_for_anyone_are_not_reused_for_a_staff_member(call: Call) -> None:
    afternoon_offer(call)  # anyone's times, fresh
    d = call.say("With Tom, please")
    assert d == Check("haircut", TOMORROW, None, "Tom")
    call.check(d, staff_slots(call.business, TOMORROW, "Tom"))
    assert call.state.availability is not None and call.state.availability.staff == "Tom"
    assert call.state.availability.is_fresh(_time.monotonic())


async def test_the_booking_goes_to_the_staff_member_asked_for(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.manager.greeting()
        t = await r.say("A haircut with Tom next Tuesday at 3 please")
        [check] = t.tool_calls
        assert check["arguments"] == {"service": "haircut", "date": "2026-12-01",
                                      "time": "15:00", "staff": "Tom"}
        await texts(r, ["Dana Smith", "That's fine."])
        await r.say("Yes")
        [booking] = await r.calendar.find_bookings(phone=CALLER)
        assert booking.start == at(NEXT_TUE, 15) and booking.staff == "Tom"


async def test_staff_busy_on_the_calendar_offers_their_free_times(tmp_path: Path) -> None:
    toms = entry("haircut", at(NEXT_TUE, 15), name="Client Tom", phone="+15550000000",
                 staff="Tom")
    async with rig(tmp_path, calendar=[toms]) as r:
        r.manager.greeting()
        t = await r.say("A haircut with Tom next Tuesday at 3 please")
        assert t.agent_text == (
            "I'm sorry, Tom isn't free at 3 PM on Tuesday, December 1, but Maria is. The nearest "
            "free times are 2:30 PM and 3:30 PM on Tuesday, December 1. Which time would suit you?")
        assert r.manager.state.offer is None
        assert await r.calendar.find_bookings(phone=CALLER) == []


# -- booking for someone else ------------------------------------------------------------------


def test_for_someone_else_the_name_on_the_booking_is_asked_for(call: Call) -> None:
    d = call.say("I'd like to book a haircut for my daughter tomorrow at 3")
    say = call.check(d, free_slots(call.business, TOMORROW))
    assert say.key == "slot_free_ask_name_other" and say.asked == "name"
    assert said(call, say) == (
        "3 PM tomorrow is free for a haircut. What name should I put the appointment under?")
    assert said(call, call.say("Emma Smith")) == ASK_PHONE_0001
    assert said(call, call.say("That's fine.")) == (
        "So that's a haircut tomorrow at 3 PM for Emma Smith. Shall I book that?")
    assert call.say("Yes") == Book("haircut", at(TOMORROW, 15), "Emma Smith", CALLER)


def test_the_other_persons_name_given_with_the_request(call: Call) -> None:
    d = call.say("Can I book a haircut for my son, Leo Smith, tomorrow at 3?")
    say = call.check(d, free_slots(call.business, TOMORROW))
    assert say.key == "ask_phone" and say.lead == [
        ("slot_free", slot_args("tomorrow", "3 PM", "Leo Smith"))]
    call.say("That's fine.")
    assert call.say("Yes") == Book("haircut", at(TOMORROW, 15), "Leo Smith", CALLER)


def test_for_someone_else_after_giving_ones_own_name_drops_it(call: Call) -> None:
    call.check(call.say("My name is Dana Smith, a haircut tomorrow at 3 please"),
               free_slots(call.business, TOMORROW))
    assert call.state.name == "Dana Smith"
    d = call.say("Actually, it's for my daughter")
    assert isinstance(d, Say) and d.key == "ask_name_other" and d.asked == "name"
    assert said(call, d) == "And what name should I put the appointment under?"
    assert call.state.name is None and call.state.for_other
    assert said(call, call.say("Emma Smith")) == (
        "So that's a haircut tomorrow at 3 PM for Emma Smith. Shall I book that?")


def test_the_callers_own_name_is_not_put_on_someone_elses_booking(call: Call) -> None:
    """"My name is Dana Smith and I'd like a haircut for my daughter": the booking is the
    daughter's, whose name has not been given; the caller's own name is not hers."""
    d = call.say("My name is Dana Smith and I'd like to book a haircut for my daughter "
                 "tomorrow at 3")
    assert call.state.for_other
    assert call.state.name is None
    say = call.check(d, free_slots(call.business, TOMORROW))
    assert say.key == "slot_free_ask_name_other" and say.asked == "name"


# -- names: spelled, non-ASCII, the caller's casing ---------------------------------------------


@pytest.mark.parametrize(("text", "name"), [
    ("It's Siobhan, S-I-O-B-H-A-N, Kelly.", "Siobhan Kelly"),
    ("Niamh O'Brien. That's N-I-A-M-H, and then O, apostrophe, B-R-I-E-N.", "Niamh O'Brien"),
    ("Łukasz Wójcik. Łukasz is L with a line through it, U-K-A-S-Z. Wójcik is W, O with an "
     "accent, J-C-I-K.", "Łukasz Wójcik"),
    ("José Núñez. J-O-S-E, with an accent on the E. Núñez is N, U with an accent, N with a "
     "tilde, E, Z.", "José Núñez"),
    ("Zoë Müller. Zoë is Z-O-E with the two dots over the E, and Müller is M, U with an "
     "umlaut, L-L-E-R.", "Zoë Müller"),
    ("Kate Ahmadzai. The surname's A-H-M-A-D-Z-A-I.", "Kate Ahmadzai"),
    ("It's Dana Smith, D, A, N, A, then S, M, I, T, H", "Dana Smith"),
    ("Sierra Oscar Papa Hotel India Echo", "Sophie"),
    ("My name is Shavon Kelly. S-I-O-B-H-A-N.", "Siobhan Kelly"),  # the spelling wins
    ("It's SGD Caller.", "SGD Caller"),  # the caller's casing is kept
])
def test_names_at_the_name_question(salon: Business, text: str, name: str) -> None:
    assert understand(text, salon, TODAY, asked="name").name == name


@pytest.mark.parametrize(("text", "name"), [
    ("Away. Actually. Could we do Saturday instead? Same time.", None),  # "Wait" misheard
    ("Smith. Could we do Saturday instead?", None),  # one word beside a change: ask again
    ("Dana Smith. Could we do Saturday instead?", "Dana Smith"),
    ("Smith.", "Smith"),  # the whole answer
])
def test_a_first_sentence_is_the_name_when_it_is_a_full_name(salon: Business, text: str,
                                                              name: str | None) -> None:
    assert understand(text, salon, TODAY, asked="name").name == name


@pytest.mark.parametrize(("text", "name"), [
    ("I'm Dana, I'd like a haircut", "Dana"),
    ("i'm dana, I'd like a haircut", None),  # a weak lead needs a capital letter
    ("I'm visiting my mum, can I get a haircut?", None),
    ("this is Zoë Müller, can I get a haircut?", "Zoë Müller"),
])
def test_names_after_weak_leads_need_a_capital(salon: Business, text: str,
                                               name: str | None) -> None:
    assert understand(text, salon, TODAY, asked="anything").name == name


@pytest.mark.parametrize(("text", "name"), [
    ("Shavon, S-I-O-B-H-A-N", "Siobhan"),  # heard wrong, spelled right, in one breath
    ("Dana Smyth, S-M-I-T-H", "Dana Smith"),
    ("My name is Jon Smith. J-O-H-N.", "John Smith"),  # one letter apart
    ("My name is Katherine Lee. It's C-A-T-H-E-R-I-N-E.", "Catherine Lee"),
])
def test_a_spelling_replaces_the_word_misheard(salon: Business, text: str, name: str) -> None:
    """Spelling wins over hearing (names.py): the spelled word replaces the spoken one, it
    is not added to it, and a spelling one letter away from what was heard is a correction."""
    assert understand(text, salon, TODAY, asked="name").name == name


def test_a_spelled_non_ascii_name_reaches_the_booking(call: Call) -> None:
    call.check(call.say("A haircut tomorrow at 3, please"), free_slots(call.business, TOMORROW))
    d = call.say("Zoë Müller. Zoë is Z-O-E with the two dots over the E, and Müller is M, U "
                 "with an umlaut, L-L-E-R.")
    assert isinstance(d, Say) and d.key == "ask_phone"
    assert said(call, call.say("That's fine.")) == (
        "So that's a haircut tomorrow at 3 PM for Zoë Müller. Shall I book that?")
    assert call.say("Yes") == Book("haircut", at(TOMORROW, 15), "Zoë Müller", CALLER)


# -- "I don't know" is not "whatever you have" ----------------------------------------------------


def test_unsure_hears_the_times_again_and_nothing_is_picked(call: Call) -> None:
    afternoon_offer(call)
    d = call.say("Hmm, I don't know.")
    assert isinstance(d, Say) and d.key == "times_again" and d.asked == "time"
    assert said(call, d) == ("No problem. Tomorrow I have 12 PM, 2 PM and 4:30 PM free. Which "
                             "time would suit you, or would another day be better?")
    assert call.state.offer is None
    d = call.say("I'm not sure.")  # the second time: a friendly exit, no loop
    assert isinstance(d, Say) and d.key == "unsure_goodbye" and d.end_call
    assert call.state.outcome == "no_booking" and call.state.offer is None


def test_unsure_which_service_hears_the_services_not_a_question_about_the_day(call: Call
                                                                          ) -> None:
    d = call.say("Hi, could I come in tomorrow morning at 9?")
    assert isinstance(d, Say) and d.asked == "service"
    d = call.say("Sorry, I don't know.")
    assert isinstance(d, Say) and d.key == "unsure_service" and d.asked == "service"
    assert said(call, d) == ("No problem. We offer haircut, hair colouring and blow-dry. Which "
                             "service would suit you? Or you're welcome to call back once "
                             "you've decided.")


def test_no_preference_lets_the_agent_choose_the_first_offered(call: Call) -> None:
    afternoon_offer(call)
    d = call.say("Whatever you have is fine.")
    assert isinstance(d, Say) and d.asked == "name"
    assert d.lead == [("suggest", slot_args("tomorrow", "12 PM"))]
    assert call.state.offer is not None and call.state.offer.start == at(TOMORROW, 12)
    assert not call.state.confirmed  # still to be confirmed, with the name
    assert said(call, d).startswith("How about 12 PM tomorrow? ")


def test_a_bound_restated_chooses_among_the_offered(call: Call) -> None:
    call.check(call.say("A haircut tomorrow"), free_slots(call.business, TOMORROW))
    assert [s.start.hour for s in call.state.offered_times] == [9, 13, 17]
    d = call.say("Anything after 3 is fine.")
    assert isinstance(d, Say) and d.lead == [("suggest", slot_args("tomorrow", "5:30 PM"))]
    assert call.state.offer is not None and call.state.offer.start == at(TOMORROW, 17, 30)


def test_no_preference_for_the_day_is_the_soonest_from_today(call: Call) -> None:
    call.say("A haircut please")
    d = call.say("I don't mind, any time.")
    assert d == Check("haircut", TODAY, None)
    assert call.state.constraint == Constraint("earliest")


def test_unsure_about_the_day_is_asked_again(call: Call) -> None:
    call.say("A haircut please")
    d = call.say("I'm not sure.")
    assert isinstance(d, Say) and d.key == "unsure" and d.asked == "date"
    assert call.state.day is None


@pytest.mark.parametrize("lead", ["suggest", "first_free"])
def test_the_agents_own_suggestion_is_not_answered_for_the_caller(call: Call, lead: str) -> None:
    """"How about 12 PM tomorrow?" is a question to the caller: the agent does not go on
    with "Great." as if the caller had said yes."""
    if lead == "suggest":
        afternoon_offer(call)
        d = call.say("Whatever you have is fine.")
    else:
        d = call.check(call.say("What's the earliest you have for a haircut tomorrow?"),
                       free_slots(call.business, TOMORROW))
    assert isinstance(d, Say) and d.lead[0][0] == lead and d.asked == "name"
    text = said(call, d)
    assert text.endswith(ASK_NAME)
    assert "Great." not in text, text


# -- questions about the business ----------------------------------------------------------------


def test_opening_hours_of_a_day_asked_about_is_not_the_booking_day(call: Call) -> None:
    d = call.say("What time do you open on Saturday?")
    assert isinstance(d, Say) and d.key == "ask_what_to_book" and d.asked == "service"
    assert d.lead == [("answer_hours_day", {"weekday": "Saturday", "opens": "10 AM",
                                            "closes": "4 PM"})]
    assert said(call, d) == (
        "On Saturdays we're open from 10 AM to 4 PM. Would you like to book an appointment?")
    assert call.state.day is None  # the question alone books no day
    # ... but the request right after it is for the day asked about (read back and confirmed
    # before anything is written): "yes, a haircut please" is a haircut on Saturday
    d = call.say("Yes, a haircut please")
    assert d == Check("haircut", date(2026, 11, 28), None)


def test_a_day_asked_about_is_context_for_one_turn_only(call: Call) -> None:
    call.say("What time do you open on Saturday?")
    call.say("Hmm, let me think")
    d = call.say("A haircut please")
    assert isinstance(d, Say) and d.key == "ask_day"


def test_a_closed_day(call: Call) -> None:
    d = call.say("Are you open on Sunday?")
    assert said(call, d) == "We're closed on Sundays. Would you like to book an appointment?"


def test_the_week_s_hours(call: Call) -> None:
    assert said(call, call.say("What are your opening hours?")) == (
        "We're open Monday to Wednesday from 9 AM to 6 PM, Thursday to Friday from 9 AM to 8 PM "
        "and Saturday from 10 AM to 4 PM. Would you like to book an appointment?")


def test_an_hours_question_during_the_booking_keeps_the_flow(call: Call) -> None:
    call.say("I'd like a haircut")
    d = call.say("What time do you close on Friday?")
    assert said(call, d) == ("On Fridays we're open from 9 AM to 8 PM. Sure, a haircut. "
                             "What day would you like to come in?")
    assert call.state.day is None and d.asked == "date"


def test_a_duration_question_names_the_service_and_books_it(call: Call) -> None:
    d = call.say("How long does a colour take?")
    assert said(call, d) == ("A hair colouring takes about 90 minutes. Sure, a hair colouring. "
                             "What day would you like to come in?")
    d = call.say("OK, tomorrow at 10 then")
    assert d == Check("color", TOMORROW, at(TOMORROW, 10))


def test_durations_of_every_service(call: Call) -> None:
    assert said(call, call.say("How long does it take?")) == (
        "As a guide, a haircut takes 30 minutes, a hair colouring takes 90 minutes and a "
        "blow-dry takes 30 minutes. Would you like to book an appointment?")


def test_services_asked_about(call: Call) -> None:
    d = call.say("Do you do blow-dries?")
    assert isinstance(d, Say) and d.key == "ask_day"
    assert d.lead == [("answer_we_do", {"service": "blow-dry"})]
    assert call.state.service is not None and call.state.service.id == "blowdry"
    d = Call(call.business, call.policy.replies).say("What services do you offer?")
    assert isinstance(d, Say) and d.lead == [("answer_services", {})]
    assert d.key == "ask_what_to_book"


def test_a_question_without_business_data_is_not_guessed(call: Call) -> None:
    d = call.say("How much is a haircut?")
    assert said(call, d) == ("I'm afraid I don't know that, but a colleague can tell you. "
                             "Sure, a haircut. What day would you like to come in?")


def test_a_question_while_times_are_offered_offers_them_again(call: Call) -> None:
    afternoon_offer(call)
    d = call.say("How long does it take?")
    assert said(call, d) == ("A haircut takes about 30 minutes. Tomorrow I have 12 PM, 2 PM and "
                             "4:30 PM free for a haircut. Which time would you like?")


def test_a_question_at_the_confirmation_is_answered_then_confirmed_again(call: Call) -> None:
    call.check(call.say("My name is Dana Smith, a haircut tomorrow at 3 please"),
               free_slots(call.business, TOMORROW))
    call.say("That's fine.")
    assert call.state.asked == "confirm"
    d = call.say("How long does it take?")
    assert isinstance(d, Say), d
    assert d.lead == [("answer_duration", {"service": "haircut", "minutes": 30})]
    assert d.key == "confirm" and d.asked == "confirm"
    assert call.state.misunderstandings == 0


def test_questions_while_the_name_is_asked_are_answered_not_misunderstood(call: Call) -> None:
    call.check(call.say("A haircut tomorrow at 3, please"), free_slots(call.business, TOMORROW))
    for question in ("What time do you close tomorrow?", "How long does it take?",
                     "Are you open on Saturday?"):
        d = call.say(question)
        assert isinstance(d, Say) and not d.end_call, (question, d)
        assert d.asked == "name" and d.lead and d.lead[0][0].startswith("answer_"), question
        assert "didn't catch" not in said(call, d), question
        assert call.state.misunderstandings == 0
    assert call.state.offer is not None and call.state.offer.start == at(TOMORROW, 15)


async def test_a_question_first_then_the_booking(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.manager.greeting()
        t = await r.say("How long does a haircut take?")
        assert t.agent_text == ("A haircut takes about 30 minutes. Sure, a haircut. "
                                "What day would you like to come in?")
        assert t.tool_calls == [] and t.llm_calls == 0
        t = await r.say("Next Tuesday at 3 pm.")
        assert t.agent_text == f"3 PM on Tuesday, December 1 is free for a haircut. {ASK_NAME}"


# -- "I can't make it": cancel or move ---------------------------------------------------------


async def test_cant_make_it_asks_cancel_or_move_then_cancels(tmp_path: Path) -> None:
    async with rig(tmp_path, calendar=[WED_HAIRCUT]) as r:
        r.manager.greeting()
        [booking] = r.seeded
        t = await r.say("I can't make it on Wednesday")
        assert t.agent_text == (
            "I can see your haircut on Wednesday, November 25 at 2 PM. Would you like to cancel "
            "it, or which day would you like to move it to?")
        assert [c["name"] for c in t.tool_calls] == ["find_my_appointments"]
        assert r.manager.state.asked == "date" and r.manager.state.undecided
        t = await r.say("Just cancel it, please.")
        assert t.agent_text == (
            "I can see your haircut on Wednesday, November 25 at 2 PM. "
            "Shall I go ahead and cancel it?")
        assert t.tool_calls == [] and booking.id in await r.all_bookings()
        t = await r.say("Yes")
        assert [c["name"] for c in t.tool_calls] == ["cancel_appointment"]
        assert await r.all_bookings() == {}
        assert r.manager.state.outcome == "cancelled"


async def test_cant_make_it_then_a_new_day_moves_it(tmp_path: Path) -> None:
    async with rig(tmp_path, calendar=[WED_HAIRCUT]) as r:
        r.manager.greeting()
        [booking] = r.seeded
        await r.say("I can't make it on Wednesday")
        t = await r.say("Friday at 4, please")
        assert t.agent_text == (
            "I can move your haircut to Friday, November 27 at 4 PM. Shall I go ahead?")
        await r.say("Yes")
        assert (await r.all_bookings())[booking.id].start == at(FRI, 16)
        assert r.manager.state.outcome == "rescheduled"


async def test_cant_make_it_then_no_keeps_it(tmp_path: Path) -> None:
    async with rig(tmp_path, calendar=[WED_HAIRCUT]) as r:
        r.manager.greeting()
        [booking] = r.seeded
        await r.say("I can't make it on Wednesday")
        t = await r.say("No, leave it.")
        assert t.agent_text == ("No problem, I'll leave your appointment as it is. "
                                "Is there anything else I can help with?")
        assert await r.all_bookings() == {booking.id: booking}
        assert r.intents() == []


@pytest.mark.parametrize("text", [
    "I can't make it on Wednesday",
    "I won't be able to make it on Wednesday",
    "I can't make my appointment on Wednesday",
    "I can't make my haircut on Wednesday",
])
def test_cant_make_it_is_never_a_new_booking_on_that_day(call: Call, text: str) -> None:
    d = call.say(text)
    assert isinstance(d, Find), d  # the caller's booking is looked up
    assert call.state.intent == "cancel" and call.state.undecided
    say = call.find([WED_2PM], text)
    assert isinstance(say, Say) and say.key == "cancel_or_move" and say.asked == "date"


# -- the owner check: found by name, from another number -----------------------------------------

NOT_FOUND = ("I couldn't find an appointment under this phone number. "
             "What name is it booked under?")
VERIFY_DAY = "Of course. Which day is the appointment on?"
VERIFY_NUMBER = "For your security, what's the phone number the appointment was booked under?"
VERIFY_FAILED = ("I'm sorry, I can't change that appointment without the number it was booked "
                 "under. A colleague can call you back about it. Is there anything else I can "
                 "help with?")
MARCUS_FRI = entry("haircut", at(FRI, 11), name="Marcus Lee", phone=OTHER_NUMBER, staff="Tom")


def _nothing_revealed(agent_texts: list[str]) -> None:
    for text in agent_texts:
        for detail in ("Friday", "November 27", "11 AM", "haircut"):
            assert detail not in text, (detail, text)


async def test_owner_check_day_then_number_then_the_change(tmp_path: Path) -> None:
    async with rig(tmp_path, calendar=[MARCUS_FRI]) as r:
        r.manager.greeting()
        [booking] = r.seeded
        before = await texts(r, ["Hi, I need to cancel my haircut", "Marcus Lee",
                                 "It's on Friday."])
        assert before == [NOT_FOUND, VERIFY_DAY, VERIFY_NUMBER]
        _nothing_revealed(before)
        assert not r.manager.state.verified and r.manager.state.existing is None
        t = await r.say("It's 555 999 0000.")
        assert t.agent_text == ("I can see your haircut on Friday, November 27 at 11 AM. "
                                "Shall I go ahead and cancel it?")
        assert r.manager.state.verified and r.manager.state.existing == booking
        t = await r.say("Yes")
        assert [c["name"] for c in t.tool_calls] == ["cancel_appointment"]
        assert await r.all_bookings() == {}


async def test_owner_check_day_named_with_the_request_goes_to_the_number(tmp_path: Path) -> None:
    async with rig(tmp_path, calendar=[MARCUS_FRI]) as r:
        r.manager.greeting()
        assert await texts(r, ["I need to cancel my haircut on Friday", "Marcus Lee"]) == [
            NOT_FOUND, VERIFY_NUMBER]


async def test_owner_check_fails_without_the_number_and_reveals_nothing(tmp_path: Path) -> None:
    async with rig(tmp_path, calendar=[MARCUS_FRI]) as r:
        r.manager.greeting()
        [booking] = r.seeded
        said_ = await texts(r, ["Hi, I need to cancel my haircut", "Marcus Lee", "Friday",
                                "I don't know it, sorry."])
        assert said_ == [NOT_FOUND, VERIFY_DAY, VERIFY_NUMBER, VERIFY_FAILED]
        _nothing_revealed(said_)
        assert await r.all_bookings() == {booking.id: booking}  # untouched
        [intent] = r.intents()
        assert (intent.action, intent.status) == ("callback", "callback")
        assert intent.payload["why"] == "caller could not show the booking is theirs"
        t = await r.say("No, that's all.")
        assert t.end_call


@pytest.mark.parametrize(("day", "number"), [
    ("It's on Wednesday.", None),  # not the day of any of their bookings
    ("Friday", "555 000 1111"),  # not the number it was booked under
    ("Friday", "The number I'm calling from."),
])
async def test_owner_check_fails_on_a_wrong_day_or_number(tmp_path: Path, day: str,
                                                          number: str | None) -> None:
    async with rig(tmp_path, calendar=[MARCUS_FRI]) as r:
        r.manager.greeting()
        [booking] = r.seeded
        said_ = await texts(r, ["Hi, I need to cancel my haircut", "Marcus Lee", day])
        if number is not None:
            assert said_[-1] == VERIFY_NUMBER
            said_.append((await r.say(number)).agent_text)
        assert said_[-1] == VERIFY_FAILED
        _nothing_revealed(said_)
        assert await r.all_bookings() == {booking.id: booking}
        assert not any(c["name"] == "cancel_appointment" for t in r.turns for c in t.tool_calls)


async def test_a_booking_under_the_caller_id_needs_no_owner_check(tmp_path: Path) -> None:
    async with rig(tmp_path, calendar=[WED_HAIRCUT]) as r:
        r.manager.greeting()
        t = await r.say("I need to cancel my haircut")
        assert t.agent_text == ("I can see your haircut on Wednesday, November 25 at 2 PM. "
                                "Shall I go ahead and cancel it?")
        assert r.manager.state.verified and not r.manager.state.found_by_name


# -- "cancel the haircut, keep the colour" -------------------------------------------------------


@pytest.mark.parametrize(("text", "keep", "cancelled"), [
    ("I need to cancel my appointment but keep the colour", "color", "haircut"),
    ("I need to cancel my appointment. The blowout tomorrow stays as it is.", "blowdry",
     "haircut"),
])
async def test_the_booking_to_keep_is_left_alone(tmp_path: Path, text: str, keep: str,
                                                 cancelled: str) -> None:
    bookings = [WED_HAIRCUT, entry("color", at(THU, 11), staff="Tom")] if keep == "color" else [
        entry("blowdry", at(TOMORROW, 10), staff="Maria"), WED_HAIRCUT]
    async with rig(tmp_path, calendar=bookings) as r:
        r.manager.greeting()
        [kept] = [b for b in r.seeded if b.service == keep]
        [gone] = [b for b in r.seeded if b.service == cancelled]
        t = await r.say(text)
        assert t.agent_text == ("I can see your haircut on Wednesday, November 25 at 2 PM. "
                                "Shall I go ahead and cancel it?")
        assert r.manager.state.existing == gone
        await r.say("Yes")
        assert await r.all_bookings() == {kept.id: kept}


def test_keep_clauses_are_read(salon: Business) -> None:
    u = understand("Cancel my haircut, but keep the colour", salon, TODAY, asked="anything")
    assert u.wants_cancel and u.keep_service == "color" and u.service is not None
    assert u.service.id == "haircut"
    u = understand("Cancel my appointments, keep Wednesday though", salon, TODAY,
                   asked="anything")
    assert u.keep_days == [WED] and u.days == []


def test_a_day_to_keep_leaves_that_booking_and_takes_the_other(call: Call) -> None:
    fri = Booking(id="b2", business="demo-salon", service="haircut", start=at(FRI, 11),
                  end=at(FRI, 11, 30), name="Dana Smith", phone=CALLER, staff="Maria",
                  status="booked")
    text = "Cancel my appointments, keep Wednesday though"
    assert isinstance(call.say(text), Find)
    say = call.find([WED_2PM, fri], text)
    assert isinstance(say, Say) and say.key == "confirm_cancel"
    assert call.state.existing == fri
    assert said(call, say) == ("I can see your haircut on Friday, November 27 at 11 AM. "
                               "Shall I go ahead and cancel it?")


async def test_keeping_every_booking_changes_nothing(tmp_path: Path) -> None:
    async with rig(tmp_path, calendar=[WED_HAIRCUT, entry("haircut", at(FRI, 11))]) as r:
        r.manager.greeting()
        t = await r.say("I need to cancel, but keep the haircut")
        assert t.agent_text == ("No problem, I'll leave your appointment as it is. "
                                "Is there anything else I can help with?")
        assert len(await r.all_bookings()) == 2


# -- moves: to the day wanted, never back to the booking's own day; "same time" ----------------

def test_a_move_goes_to_the_target_day_not_the_bookings_own(call: Call) -> None:
    text = "Can I move my haircut from Wednesday to Friday at 4?"
    u = call.understand(text)
    assert u.day == WED and u.target_days == [FRI]  # the first day named is the old one
    assert isinstance(call.say(text), Find)
    assert call.find([WED_2PM], text) == Check("haircut", FRI, at(FRI, 16))


def test_a_move_with_only_the_bookings_own_day_asks_where_to(call: Call) -> None:
    text = "I need to move my haircut on Wednesday"
    call.say(text)
    say = call.find([WED_2PM], text)
    assert isinstance(say, Say) and say.key == "ask_new_day" and say.asked == "date"
    assert said(call, say) == ("Sure, your haircut on Wednesday, November 25 at 2 PM. "
                               "What day would you like to move it to?")


def test_same_time_on_the_new_day(call: Call) -> None:
    text = "Can I move my haircut from Wednesday to Friday, same time?"
    call.say(text)
    assert call.find([WED_2PM], text) == Check("haircut", FRI, at(FRI, 14))


def test_same_time_before_the_day_is_kept_for_it(call: Call) -> None:
    text = "I'd like to reschedule my haircut on Wednesday, same time"
    call.say(text)
    assert call.find([WED_2PM], text).key == "ask_new_day"  # type: ignore[union-attr]
    assert call.state.tod == TimeOfDay(exact=time(14, 0))
    assert call.say("Friday") == Check("haircut", FRI, at(FRI, 14))


async def test_a_move_to_the_target_day_end_to_end(tmp_path: Path) -> None:
    async with rig(tmp_path, calendar=[WED_HAIRCUT]) as r:
        r.manager.greeting()
        [booking] = r.seeded
        t = await r.say("Can I move my Wednesday haircut to Friday, same time?")
        assert t.agent_text == (
            "I can move your haircut to Friday, November 27 at 2 PM. Shall I go ahead?")
        [_, check] = t.tool_calls
        assert check["arguments"] == {"service": "haircut", "date": "2026-11-27", "time": "14:00"}
        t = await r.say("Yes")
        [move] = t.tool_calls
        assert move["arguments"] == {"booking_id": booking.id, "new_start": "2026-11-27T14:00"}
        assert (await r.all_bookings())[booking.id].start == at(FRI, 14)


# -- the two readings disagree --------------------------------------------------------------------


@pytest.mark.parametrize(("conflict", "key", "asked", "text"), [
    (Conflict("day", WED, TOMORROW), "check_day", "date",
     "Just to check, which day would suit you: Wednesday, November 25, or tomorrow?"),
    (Conflict("tod", TimeOfDay(exact=time(15)), TimeOfDay(exact=time(17))), "check_time",
     "time", "Just to check, what time would suit you: 3 PM, or 5 PM?"),
    (Conflict("staff", "Maria", "Tom"), "check_staff", "anything",
     "Just to check, who would you like to see: Maria, or Tom?"),
    (Conflict("name", "Dana Smith", "Diana Smith"), "check_name", "name",
     "Just to check, what name should I put the booking under: Dana Smith, or Diana Smith?"),
])
def test_the_conflict_question_names_both_readings(call: Call, conflict: Conflict, key: str,
                                                   asked: str, text: str) -> None:
    say = call.policy.on_conflict(call.state, [conflict])
    assert say.key == key and say.asked == asked
    assert call.render(say) == text


def test_a_service_conflict_and_an_option_conflict(call: Call, salon: Business) -> None:
    say = call.policy.on_conflict(call.state, [
        Conflict("service", salon.service("haircut"), salon.service("color"))])
    assert call.render(say) == ("Just to check, which service would you like: a haircut, or a "
                                "hair colouring?")
    afternoon_offer(call)
    option = Conflict("option", 2, -1)
    assert call.policy.conflict_matters(call.state, option)
    say = call.policy.on_conflict(call.state, [option])
    assert (say.key, say.asked) == ("check_time", "time")
    assert call.render(say) == "Just to check, what time would suit you: 2 PM, or 4:30 PM?"


def test_which_conflicts_matter(call: Call) -> None:
    call.check(call.say("A haircut tomorrow at 3, please"), free_slots(call.business, TOMORROW))
    assert call.state.asked == "name"
    # a day heard in passing while the name is given does not hold the booking up
    assert not call.policy.conflict_matters(call.state, Conflict("day", WED, THU))
    assert call.policy.conflict_matters(call.state, Conflict("name", "Dana", "Diana"))
    # "the second one" against "the last one" matters only when times were just offered
    fresh = Call(call.business, call.policy.replies)
    assert not fresh.policy.conflict_matters(fresh.state, Conflict("option", 2, -1))


class StubReader:
    """The LLM's typed reading, scripted: one ``LLMReading`` per turn."""

    def __init__(self, *readings: LLMReading) -> None:
        self.readings = list(readings)
        self.contexts: list[ReadingContext] = []

    async def read(self, text: str, today: date, context: ReadingContext
                   ) -> tuple[LLMReading, float]:
        self.contexts.append(context)
        return self.readings.pop(0), 0.01


async def test_a_conflict_is_asked_about_before_anything_is_checked(tmp_path: Path) -> None:
    reader = StubReader(
        LLMReading(intent="book", service="haircut", when=[When(said="Thursday")]),
        LLMReading(when=[When(said="Wednesday")]))
    async with rig(tmp_path) as r:
        r.manager.reader, r.manager.reading = reader, "always"  # type: ignore[assignment]
        r.manager.greeting()
        t = await r.say("Can I get a haircut Wednesday? Thursday I work.")
        assert t.agent_text == ("Just to check, which day would suit you: Wednesday, "
                                "November 25, or Thursday, November 26?")
        assert t.tool_calls == [] and r.manager.state.asked == "date"
        [reading] = [e for e in t.policy_events if e["event"] == "reading"]
        assert reading["conflicts"] == ["day"]
        # the answer settles the day; the haircut both readings heard is not asked for again
        t = await r.say("Wednesday, please.")
        [check] = t.tool_calls
        assert check["arguments"] == {"service": "haircut", "date": "2026-11-25"}
        assert t.agent_text.startswith("On Wednesday, November 25 I have ")


async def test_a_yes_only_the_llm_heard_is_asked_again_not_booked(tmp_path: Path) -> None:
    reader = StubReader(LLMReading(acts=["affirm"]))
    async with rig(tmp_path) as r:
        r.manager.greeting()
        await texts(r, ["A haircut next Tuesday at 3 pm", "Dana Smith", "That's fine."])
        r.manager.reader, r.manager.reading = reader, "always"  # type: ignore[assignment]
        t = await r.say("Mm-hmm, go on.")
        assert t.agent_text == (
            "Sorry, I want to be sure I have it right. So that's a haircut on Tuesday, "
            "December 1 at 3 PM for Dana Smith. Shall I book that?")
        assert t.tool_calls == [] and not r.manager.state.confirmed
        assert reader.contexts[0].asked == "confirm"
        assert await r.calendar.find_bookings(phone=CALLER) == []


async def test_an_option_only_the_llm_heard_is_asked_about(tmp_path: Path) -> None:
    reader = StubReader(LLMReading(acts=["choose_option"], option=2))
    async with rig(tmp_path) as r:
        r.manager.greeting()
        await r.say("A haircut tomorrow afternoon")
        r.manager.reader, r.manager.reading = reader, "always"  # type: ignore[assignment]
        t = await r.say("Hmm, that one in the middle")
        assert t.agent_text.startswith("Sorry, which time would you like tomorrow: 12 PM, 2 PM")
        assert r.manager.state.offer is None and r.manager.state.asked == "time"
        assert [s.start for s in reader.contexts[0].offered] == [
            at(TOMORROW, 12), at(TOMORROW, 14), at(TOMORROW, 16, 30)]


# -- the caller hangs up --------------------------------------------------------------------------


def _yes_taken(r: Rig) -> Any:
    """The policy takes the caller's yes; the line drops before the booking is written."""
    s = r.manager.state
    decision = r.manager.policy.decide(s, understand("Yes", r.manager.business,
                                                     r.manager.now.date(), asked=s.asked))
    assert isinstance(decision, Book) and s.confirmed
    return decision


async def test_hang_up_after_the_yes_books_under_the_caller_id(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.manager.greeting()
        said_ = await texts(r, ["A haircut next Tuesday at 3 pm", "Dana Smith", "That's fine."])
        assert said_[-1] == ("So that's a haircut on Tuesday, December 1 at 3 PM for Dana Smith. "
                             "Shall I book that?")
        assert _yes_taken(r) == Book("haircut", at(NEXT_TUE, 15), "Dana Smith", CALLER)
        await r.manager.hang_up()
        [booking] = await r.calendar.find_bookings(phone=CALLER)
        assert (booking.start, booking.name, booking.phone) == (at(NEXT_TUE, 15), "Dana Smith",
                                                                 CALLER)
        [intent] = r.intents()
        assert (intent.action, intent.status) == ("book", "done")
        assert r.manager.state.outcome == "booked" and review_items(r) == []


async def test_hang_up_after_the_yes_without_caller_id_goes_to_review(tmp_path: Path) -> None:
    async with rig(tmp_path, caller=None) as r:
        r.manager.greeting()
        said_ = await texts(r, ["A haircut next Tuesday at 3 pm", "Dana Smith",
                                "I don't have one."])
        assert said_[1] == "And what's the best phone number to reach you?"
        assert _yes_taken(r).phone == ""
        await r.manager.hang_up()
        assert await r.calendar.find_bookings(name="Dana Smith") == []
        [item] = review_items(r)
        assert item.status == "pending"
        assert item.reason == "caller hung up before giving a name or number"
        assert item.confidence["explicit_confirmation"] is True
        [intent] = r.intents()
        assert intent.status == "review"
        assert intent.payload == {"service": "haircut", "start": at(NEXT_TUE, 15).isoformat(),
                                  "name": "Dana Smith", "phone": ""}


async def test_hang_up_after_a_yes_with_no_name_yet_goes_to_review(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.manager.greeting()
        await texts(r, ["My name is Dana Smith, a haircut next Tuesday at 3 pm",
                        "That's fine."])
        t = await r.say("Yes, it's for my son.")  # yes, but the name on it is not given yet
        assert t.agent_text == "And what name should I put the appointment under?"
        assert r.manager.state.confirmed and r.manager.state.name is None
        await r.manager.hang_up()
        assert await r.calendar.find_bookings(phone=CALLER) == []
        [item] = review_items(r)
        assert item.reason == "caller hung up before giving a name or number"
        [intent] = r.intents()
        assert intent.status == "review"
        assert intent.payload["name"] == "(no name given)" and intent.payload["phone"] == CALLER


async def test_hang_up_after_the_yes_sent_to_review_is_pending_review(tmp_path: Path) -> None:
    """As when a live booking goes to review (``DialogManager._book``): the call's outcome
    says a booking waits for a human, not that there was none."""
    async with rig(tmp_path, caller=None) as r:
        r.manager.greeting()
        await texts(r, ["A haircut next Tuesday at 3 pm", "Dana Smith", "I don't have one."])
        _yes_taken(r)
        await r.manager.hang_up()
        assert len(review_items(r)) == 1
        assert r.manager.state.outcome == "pending_review"


async def test_hang_up_before_the_yes_books_nothing_and_is_recorded(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.manager.greeting()
        await texts(r, ["A haircut next Tuesday at 3 pm", "Dana Smith", "That's fine."])
        assert r.manager.state.offer is not None and not r.manager.state.confirmed
        await r.manager.hang_up()
        await r.manager.hang_up()  # once only
        assert await r.calendar.find_bookings(phone=CALLER) == []
        [intent] = r.intents()
        assert (intent.action, intent.status) == ("callback", "abandoned")
        assert intent.payload["why"] == "caller hung up mid-request"
        assert (intent.payload["service"], intent.payload["day"], intent.payload["name"]) == (
            "haircut", "2026-12-01", "Dana Smith")
        assert review_items(r) == [] and r.manager.state.outcome == "no_booking"


async def test_hang_up_after_the_booking_adds_nothing(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.manager.greeting()
        await texts(r, ["A haircut next Tuesday at 3 pm", "Dana Smith", "That's fine.", "Yes"])
        await r.manager.hang_up()
        assert [(i.action, i.status) for i in r.intents()] == [("book", "done")]
        assert len(await r.calendar.find_bookings(phone=CALLER)) == 1


async def test_no_number_at_all_is_not_sent_to_the_calendar(tmp_path: Path) -> None:
    """No caller ID and no number given: the booking cannot be written (a calendar entry
    needs a number) nor confirmed "by text"; like the same yes at a hang-up, a human takes
    it (review), rather than a pending intent the reconciler can never complete."""
    async with rig(tmp_path, caller=None) as r:
        r.manager.greeting()
        await texts(r, ["A haircut next Tuesday at 3 pm", "Dana Smith", "I'd rather not say."])
        t = await r.say("Yes")
        assert not any(c["name"] == "book_appointment" and c["status"] == "failed"
                       for c in t.tool_calls), t.tool_calls
        assert "by text" not in t.agent_text
        assert [i.status for i in r.intents()] == ["review"]


def test_a_name_only_the_llm_heard_is_taken_only_when_a_name_was_asked_for() -> None:
    """Seen with the 0.5B model: "Oh, okay. Tom's fine then." (the caller accepts the
    stylist) came back with name "Tom", and the booking was written under the stylist."""
    from voice_agent.dialog.merge import merge
    from voice_agent.dialog.understanding import Understanding

    fast = Understanding(text="Oh, okay. Tom's fine then.", staff="Tom")
    llm = Understanding(text="Oh, okay. Tom's fine then.", staff="Tom", name="Tom")
    assert merge(fast, llm, asked="time", staff=("Maria", "Tom")).understanding.name is None
    assert merge(fast, llm, asked="name", staff=("Maria", "Tom")).understanding.name is None
    other = Understanding(text="It's Dana Smith", name="Dana Smith")
    assert merge(Understanding(text="It's Dana Smith"), other, asked="name",
                 staff=("Maria", "Tom")).understanding.name == "Dana Smith"
