"""The booking policy as a pure state machine: no LLM, no connector, slots built by hand.

Today is Monday 2026-11-23 at demo-salon (New York); "next Tuesday" is 2026-12-01.
"""

import time as _time
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from connectors.base import Booking, Slot
from connectors.schedule import Business
from voice_agent.dialog.policy import Book, BookingPolicy, Check, Decision, Find, Open
from voice_agent.dialog.replies import Say
from voice_agent.dialog.slot_picks import nearest, spread
from voice_agent.dialog.state import Availability, DialogState
from voice_agent.dialog.understanding import Understanding, understand

TODAY = date(2026, 11, 23)
NEXT_TUE = date(2026, 12, 1)
TOMORROW = date(2026, 11, 24)
SUNDAY = date(2026, 11, 29)
CALLER = "+15551230001"
PROMPTS = Path(__file__).resolve().parents[2] / "prompts"
NY = ZoneInfo("America/New_York")


class Call:
    """Drives the policy the way the manager does, minus the LLM and the connector: what the
    policy collected in ``policy.lead`` (answers, "the first time I have is ...") is merged
    into the Say the turn ends with, before it is rendered or asserted on."""

    def __init__(self, business: Business, replies: dict[str, str]) -> None:
        self.business = business
        self.policy = BookingPolicy(business=business, replies=replies, today=TODAY)
        self.state = DialogState(caller_phone=CALLER, asked="anything")

    def understand(self, text: str) -> Understanding:
        return understand(text, self.business, TODAY, asked=self.state.asked)

    def say(self, text: str) -> Decision:
        u = self.understand(text)
        decision = self.policy.decide(self.state, u)
        if isinstance(decision, Say):
            self.finish(decision)
        return decision

    def check(self, decision: Decision, free: list[Slot], later: list[Slot] | None = None,
              others_free: list[str] | None = None) -> Say:
        assert isinstance(decision, Check), decision
        avail = Availability(decision.service, decision.day, free, _time.monotonic(),
                             staff=decision.staff)
        say = self.policy.after_check(self.state, avail, decision.start, later, others_free)
        assert isinstance(say, Say), say
        self.finish(say)
        return say

    def find(self, bookings: list[Booking], text: str, *, by_name: bool = False) -> Decision:
        """The manager's lookup answered: ``text`` is what the caller said to ask for it."""
        u = understand(text, self.business, TODAY, asked=self.state.asked)
        decision = self.policy.after_find(self.state, bookings, u, by_name=by_name)
        if isinstance(decision, Say):
            self.finish(decision)
        return decision

    def finish(self, say: Say) -> None:
        """What the manager does with the turn's Say: the leads go first, then it is said."""
        say.lead = self.policy.lead + say.lead
        self.policy.lead = []
        self.apply(say)

    def apply(self, say: Say) -> None:
        self.state.asked = say.asked if say.asked else ("anything" if not say.end_call else None)
        if say.outcome:
            self.state.outcome = say.outcome

    def render(self, say: Decision) -> str:
        assert isinstance(say, Say), say
        return self.policy.words.render(say)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=NY)


def free_slots(business: Business, day: date, *, taken: tuple[time, ...] = (),
               service: str = "haircut") -> list[Slot]:
    """Every grid start of the day for the service, minus the taken start times."""
    minutes = business.service(service).duration
    return [
        Slot(start=s, end=s + minutes, staff="Maria")
        for s in business.candidate_starts(service, day)
        if s.timetz().replace(tzinfo=None) not in taken
    ]


def test_happy_path_to_book(call: Call) -> None:
    d = call.say("Hi, I'd like to book")
    assert isinstance(d, Say) and d.key == "ask_service" and d.asked == "service"
    assert "haircut, hair colouring and blow-dry" in call.render(d)

    d = call.say("A haircut please")
    assert isinstance(d, Say) and d.key == "ask_day" and d.asked == "date"
    assert call.render(d) == "Sure, a haircut. What day would you like to come in?"

    d = call.say("Next Tuesday at 3 pm.")
    assert d == Check("haircut", NEXT_TUE, at(NEXT_TUE, 15))

    say = call.check(d, free_slots(call.business, NEXT_TUE))
    # the slot is free: said so, and the name is asked for at once (nothing to say yes to yet)
    assert say.key == "slot_free_ask_name" and say.asked == "name"
    assert call.state.offer is not None and call.state.offer.start == at(NEXT_TUE, 15)
    assert not call.state.confirmed
    assert call.render(say) == (
        "3 PM on Tuesday, December 1 is free for a haircut. "
        "Can I have your name for the booking, please?"
    )

    d = call.say("Dana Smith.")
    assert isinstance(d, Say) and d.key == "ask_phone" and d.asked == "phone"
    assert call.render(d) == (
        "And shall we use the number you're calling from, ending in 0 0 0 1, "
        "or is there a better number to reach you?"
    )
    assert not call.state.confirmed

    d = call.say("Yes, that's fine.")  # the number, not the booking
    assert isinstance(d, Say) and d.key == "confirm" and d.asked == "confirm"
    assert call.render(d) == (
        "So that's a haircut on Tuesday, December 1 at 3 PM for Dana Smith. Shall I book that?"
    )
    assert not call.state.confirmed

    d = call.say("Yes please, book it.")
    assert d == Book("haircut", at(NEXT_TUE, 15), "Dana Smith", CALLER)
    assert call.state.confirmed


def test_service_and_day_in_one_utterance(call: Call) -> None:
    d = call.say("Can I get a haircut tomorrow at 10?")
    assert d == Check("haircut", TOMORROW, at(TOMORROW, 10))
    assert call.render(call.check(d, free_slots(call.business, TOMORROW))) == (
        "10 AM tomorrow is free for a haircut. Can I have your name for the booking, please?"
    )


def test_name_given_before_confirming_books_on_yes(call: Call) -> None:
    d = call.say("my name is Dana Smith and I'd like a trim next Tuesday at 3")
    assert d == Check("haircut", NEXT_TUE, at(NEXT_TUE, 15))
    say = call.check(d, free_slots(call.business, NEXT_TUE))
    # the name is known: the free slot is said, then the number is asked for
    assert say.key == "ask_phone" and say.asked == "phone"
    assert say.lead == [("slot_free", {"service": "haircut", "day": "Tuesday, December 1",
                                       "time": "3 PM", "name": "Dana Smith"})]
    assert call.render(say) == (
        "3 PM on Tuesday, December 1 is free for a haircut. And shall we use the number you're "
        "calling from, ending in 0 0 0 1, or is there a better number to reach you?"
    )
    d = call.say("That's fine.")
    assert isinstance(d, Say) and d.key == "confirm" and d.asked == "confirm"
    assert call.say("yes") == Book("haircut", at(NEXT_TUE, 15), "Dana Smith", CALLER)


def test_caller_given_phone_is_used_for_booking(call: Call) -> None:
    d = call.say("I'd like a haircut next Tuesday at 3, my number is 555 987 6543")
    assert call.check(d, free_slots(call.business, NEXT_TUE)).key == "slot_free_ask_name"
    d = call.say("Dana Smith")
    assert isinstance(d, Say) and d.key == "confirm"  # the number was given: not asked again
    d = call.say("yes")
    assert d == Book("haircut", at(NEXT_TUE, 15), "Dana Smith", "5559876543")


def test_slot_taken_offers_nearest_alternatives(call: Call) -> None:
    call.say("I'd like a haircut")
    d = call.say("next Tuesday at 3 pm")
    say = call.check(d, free_slots(call.business, NEXT_TUE, taken=(time(15, 0),)))
    assert say.key == "slot_taken" and say.asked == "time"
    assert call.state.offer is None
    assert [s.start for s in call.state.offered_times] == [at(NEXT_TUE, 14, 30),
                                                           at(NEXT_TUE, 15, 30)]
    assert call.render(say) == (
        "I'm sorry, 3 PM on Tuesday, December 1 is already taken. The nearest free times are "
        "2:30 PM and 3:30 PM on Tuesday, December 1. Which time would suit you?"
    )
    # a yes to "would one of those work?" does not book anything by itself
    assert not isinstance(call.say("yes"), Book)


def test_slot_taken_whole_day_uses_later_days(call: Call, salon: Business) -> None:
    call.say("I'd like a haircut")
    d = call.say("next Tuesday at 3 pm")
    later = free_slots(salon, date(2026, 12, 2))[:2]
    say = call.check(d, [], later)
    assert say.key == "slot_taken"
    assert "9 AM and 9:30 AM on Wednesday, December 2" in call.render(say)


def test_outside_hours(call: Call) -> None:
    call.say("I'd like a haircut")
    d = call.say("next Tuesday at 7 pm")  # the salon closes at 18:00 on Tuesdays
    assert d == Check("haircut", NEXT_TUE, at(NEXT_TUE, 19))
    say = call.check(d, free_slots(call.business, NEXT_TUE))
    assert say.key == "outside_hours"
    text = call.render(say)
    assert text.startswith("I'm sorry, 7 PM on Tuesday, December 1 is outside our opening hours.")
    assert "5 PM and 5:30 PM on Tuesday, December 1" in text  # the last starts of the day
    assert call.state.offer is None


def test_outside_hours_offers_the_other_half_of_the_clock_first(call: Call) -> None:
    call.say("I'd like a haircut")
    d = call.say("next Tuesday at 10 pm")  # "10 AM" said, or heard as PM over the phone
    say = call.check(d, free_slots(call.business, NEXT_TUE))
    assert say.key == "outside_hours" and call.state.offer is None  # offered, not held
    assert "10 AM and 5:30 PM on Tuesday, December 1" in call.render(say)
    assert [s.start.hour for s in call.state.offered_times] == [10, 17]


def test_outside_hours_twin_taken_is_not_offered(call: Call) -> None:
    call.say("I'd like a haircut")
    d = call.say("next Tuesday at 10 pm")
    say = call.check(d, free_slots(call.business, NEXT_TUE, taken=(time(10, 0),)))
    assert "5 PM and 5:30 PM on Tuesday, December 1" in call.render(say)


def test_closed_day(call: Call, salon: Business) -> None:
    call.say("I'd like a haircut")
    d = call.say("Sunday at 3")
    assert isinstance(d, Check) and d.day == SUNDAY
    later = free_slots(salon, date(2026, 11, 30))[:2]
    say = call.check(d, [], later)
    assert say.key == "closed_day"
    assert call.render(say) == (
        "I'm sorry, we're closed on Sunday, November 29. The nearest free times are 9 AM and "
        "9:30 AM on Monday, November 30. Which time would suit you?"
    )


def test_closed_day_without_time_and_nothing_later(call: Call) -> None:
    call.say("I'd like a haircut")
    say = call.check(call.say("on Sunday"), [])
    assert say.key == "closed_day"
    assert call.render(say).endswith("What day would suit you instead?")


def test_part_of_day_offers_only_that_part(call: Call) -> None:
    call.say("I'd like a haircut")
    d = call.say("tomorrow afternoon")
    assert d == Check("haircut", TOMORROW, None)
    say = call.check(d, free_slots(call.business, TOMORROW))
    assert say.key == "offer_times"
    offered = call.state.offered_times
    assert offered and all(time(12) <= s.start.time() < time(17) for s in offered)
    assert len(offered) == 3
    text = call.render(say)
    assert text.startswith("Tomorrow I have ")
    assert "AM" not in text
    # the caller picks one of the offered times: that exact slot is held, the name asked for
    say = call.say("4 pm please")
    assert isinstance(say, Say) and say.key == "slot_free_ask_name" and say.asked == "name"
    assert call.state.offer is not None and call.state.offer.start == at(TOMORROW, 16)
    assert call.render(say) == (
        "4 PM tomorrow is free for a haircut. Can I have your name for the booking, please?"
    )


def test_part_of_day_with_nothing_free(call: Call) -> None:
    call.say("I'd like a haircut")
    morning_only = [s for s in free_slots(call.business, TOMORROW) if s.start.hour < 12]
    say = call.check(call.say("tomorrow evening"), morning_only)
    assert say.key == "no_times_day"
    assert "nothing free for a haircut tomorrow" in call.render(say)


def test_caller_declines_at_confirmation(call: Call) -> None:
    call.say("I'd like a haircut")
    call.check(call.say("next Tuesday at 3 pm"), free_slots(call.business, NEXT_TUE))
    d = call.say("No, don't book it")
    assert isinstance(d, Say) and d.key == "declined" and d.asked == "date"
    assert call.state.offer is None and not call.state.confirmed
    assert call.render(d) == (
        "No problem, I won't book that. What day and time would suit you instead?"
    )
    # nothing leads to a booking from here without a new offer
    assert not isinstance(call.say("Dana Smith"), Book)


def test_caller_declines_when_asked_for_name_then_says_yes(call: Call) -> None:
    # Regression: the offer survived a "no" at the name question, so a later "yes" to
    # "would you like a different day or time?" booked the slot the caller had refused.
    call.say("I'd like a haircut")
    say = call.check(call.say("next Tuesday at 3 pm"), free_slots(call.business, NEXT_TUE))
    assert say.key == "slot_free_ask_name" and say.asked == "name"
    d = call.say("no, actually, forget it")
    assert isinstance(d, Say) and d.key == "declined"
    assert call.state.offer is None and not call.state.confirmed
    d = call.say("yes")
    assert not isinstance(d, Book)
    d2 = call.say("Dana Smith")
    assert not isinstance(d2, Book)


def test_changing_time_while_offer_pending_drops_the_offer(call: Call) -> None:
    call.say("I'd like a haircut")
    d = call.say("next Tuesday at 3 pm")
    avail = free_slots(call.business, NEXT_TUE)
    call.check(d, avail)
    assert call.state.offer is not None
    d = call.say("Actually, can we make it 4 pm instead?")
    # the fresh availability for that day answers directly: 4 PM is held instead
    assert isinstance(d, Say) and d.key == "slot_free_ask_name" and d.asked == "name"
    assert call.state.offer is not None and call.state.offer.start == at(NEXT_TUE, 16)
    assert not call.state.confirmed
    assert call.render(d) == (
        "4 PM on Tuesday, December 1 is free for a haircut. "
        "Can I have your name for the booking, please?"
    )


def test_changing_day_while_offer_pending_rechecks_at_the_same_time(call: Call) -> None:
    """"What about Wednesday instead?" after "Tuesday at 3 pm" asks for Wednesday at 3 pm."""
    call.say("I'd like a haircut")
    call.check(call.say("next Tuesday at 3 pm"), free_slots(call.business, NEXT_TUE))
    d = call.say("Hmm, what about Wednesday instead?")
    assert call.state.offer is None
    assert d == Check("haircut", date(2026, 11, 25), at(date(2026, 11, 25), 15))


def test_a_new_day_and_time_replace_both(call: Call) -> None:
    call.say("I'd like a haircut")
    call.check(call.say("next Tuesday at 3 pm"), free_slots(call.business, NEXT_TUE))
    d = call.say("Actually, Wednesday at 11 would be better.")
    assert d == Check("haircut", date(2026, 11, 25), at(date(2026, 11, 25), 11))


def test_a_time_that_is_not_a_start_time_is_not_called_outside_hours(call: Call) -> None:
    call.say("I'd like a haircut")
    d = call.say("next Tuesday at 3:15 pm")
    assert isinstance(d, Check)
    say = call.check(d, free_slots(call.business, NEXT_TUE))
    assert isinstance(say, Say) and say.key == "not_a_start_time"
    assert call.render(say).startswith("I'm sorry, appointments don't start at 3:15 PM. ")


def test_stale_availability_is_checked_again(call: Call) -> None:
    call.say("I'd like a haircut")
    d = call.say("next Tuesday at 3 pm")
    call.check(d, free_slots(call.business, NEXT_TUE, taken=(time(15, 0),)))
    assert call.state.availability is not None
    call.state.availability.checked_at -= 1_000  # two minutes have long passed
    d = call.say("3:30 then")
    assert d == Check("haircut", NEXT_TUE, at(NEXT_TUE, 15, 30))


def test_three_misunderstandings_transfer(call: Call) -> None:
    assert isinstance(call.say("blorp"), Open)
    assert isinstance(call.say("flib flob"), Open)
    d = call.say("wibble")
    assert isinstance(d, Say) and d.key == "transfer"
    assert d.end_call and d.outcome == "transferred"
    assert call.state.outcome == "transferred"
    assert call.render(d) == "Of course, let me pass you to a colleague. One moment please."


def test_asking_for_a_human_transfers_at_once(call: Call) -> None:
    d = call.say("Can I speak to a real person?")
    assert isinstance(d, Say) and d.key == "transfer" and d.outcome == "transferred"


def test_unknown_service_refused(call: Call) -> None:
    d = call.say("I'd like a massage")
    assert isinstance(d, Say) and d.key == "unknown_service" and d.asked == "service"
    assert call.render(d) == (
        "I'm sorry, we don't offer that. We offer haircut, hair colouring and blow-dry. "
        "Which would you like?"
    )


@pytest.mark.parametrize("text", ["I'd like a hair appointment on Friday.",
                                  "Can I get my hair done on Friday?"])
def test_a_request_that_begins_two_services_asks_which(call: Call, text: str) -> None:
    """"Hair" begins "haircut" and "hair colouring": the caller asked for one of them, not
    for something the salon lacks; asked which, "colouring" is understood."""
    d = call.say(text)
    assert isinstance(d, Say) and d.key == "which_service" and d.asked == "service"
    assert call.render(d) == "Of course. Is that for a haircut or a hair colouring?"
    d = call.say("The colouring, please.")
    assert call.state.service is not None and call.state.service.id == "color"


def test_an_appointment_of_the_business_own_kind_asks_for_the_service(
        dental: Business, replies: dict[str, str]) -> None:
    """"A dental appointment" at Riverside Dental is a request to book, not a service it
    lacks: the agent asks which of its services (never "we don't offer that")."""
    d = Call(dental, replies).say("Hi, I want to book a dental appointment.")
    assert isinstance(d, Say) and d.key == "ask_service" and d.asked == "service"


def test_goodbye_after_booking(call: Call) -> None:
    call.say("I'd like a haircut")
    call.check(call.say("next Tuesday at 3 pm"), free_slots(call.business, NEXT_TUE))
    d = call.say("Dana Smith")
    assert isinstance(d, Say) and d.key == "ask_phone"
    d = call.say("That's fine.")
    assert isinstance(d, Say) and d.key == "confirm"
    book = call.say("yes")
    assert book == Book("haircut", at(NEXT_TUE, 15), "Dana Smith", CALLER)
    # what the manager does when the connector booked it
    call.state.booking = Booking(
        id="b1", business="demo-salon", service="haircut", start=book.start,
        end=book.start + timedelta(minutes=30), name=book.name, phone=book.phone,
        staff="Maria", status="booked",
    )
    call.state.outcome = "booked"
    call.state.forget_slot()
    call.apply(Say("booked", asked="anything"))
    d = call.say("No, that's all.")
    assert isinstance(d, Say) and d.key == "goodbye" and d.end_call
    assert call.state.outcome == "booked"
    assert call.render(d) == "Thank you for calling Bella Hair Studio. Goodbye!"


def test_goodbye_without_booking(call: Call) -> None:
    d = call.say("Actually never mind, bye")
    assert isinstance(d, Say) and d.key == "goodbye" and d.end_call
    assert call.state.outcome == "no_booking"


def test_nearest_and_spread() -> None:
    day = NEXT_TUE
    slots = [Slot(at(day, h), at(day, h) + timedelta(minutes=30), None) for h in range(9, 18)]
    assert [s.start.hour for s in nearest(slots, at(day, 12, 30))] == [12, 13]
    assert [s.start.hour for s in spread(slots)] == [9, 13, 17]
    assert spread(slots[:2]) == slots[:2]


# -- which number to reach the caller on ----------------------------------------------------------


def _to_phone_question(call: Call) -> Decision:
    """Service, slot (free: the name is asked for) and name: the step before the confirmation."""
    call.say("I'd like a haircut")
    say = call.check(call.say("next Tuesday at 3 pm"), free_slots(call.business, NEXT_TUE))
    assert say.key == "slot_free_ask_name"
    return call.say("Dana Smith")


def _confirm_then_yes(call: Call, text: str) -> Decision:
    """The answer to the number question leads to the one confirmation; the yes books."""
    d = call.say(text)
    assert isinstance(d, Say) and d.key == "confirm" and d.asked == "confirm", d
    assert not call.state.confirmed
    return call.say("Yes")


def test_ask_phone_names_the_caller_ids_last_four_digits(
    salon: Business, replies: dict[str, str]
) -> None:
    call = Call(salon, replies)
    call.state.caller_phone = "+1 (555) 987-6789"
    d = _to_phone_question(call)
    assert isinstance(d, Say) and d.key == "ask_phone" and d.asked == "phone"
    assert d.args == {"last_digits": "6 7 8 9"}
    assert call.render(d) == (
        "And shall we use the number you're calling from, ending in 6 7 8 9, "
        "or is there a better number to reach you?"
    )
    # the slot is still held; nothing is confirmed before the one statement of everything
    assert call.state.offer is not None and call.state.offer.start == at(NEXT_TUE, 15)
    assert not call.state.confirmed


def test_number_given_in_reply_is_the_bookings_phone(call: Call) -> None:
    assert _to_phone_question(call).key == "ask_phone"  # type: ignore[union-attr]
    d = _confirm_then_yes(call, "Better use 555 987 6543, please.")
    assert d == Book("haircut", at(NEXT_TUE, 15), "Dana Smith", "5559876543")


def test_dont_know_keeps_the_caller_id(call: Call) -> None:
    assert _to_phone_question(call).key == "ask_phone"  # type: ignore[union-attr]
    d = _confirm_then_yes(call, "Sorry, I don't know.")
    assert d == Book("haircut", at(NEXT_TUE, 15), "Dana Smith", CALLER)


def test_number_volunteered_early_skips_the_question(call: Call) -> None:
    d = call.say("Hi, I'd like a haircut next Tuesday at 3, you can reach me on 555 123 4567")
    assert d == Check("haircut", NEXT_TUE, at(NEXT_TUE, 15))
    assert call.state.phone_settled
    assert call.check(d, free_slots(call.business, NEXT_TUE)).key == "slot_free_ask_name"
    d = _confirm_then_yes(call, "Dana Smith")  # no number question
    assert d == Book("haircut", at(NEXT_TUE, 15), "Dana Smith", "5551234567")


def test_no_caller_id_asks_for_a_number(salon: Business, replies: dict[str, str]) -> None:
    call = Call(salon, replies)
    call.state.caller_phone = None
    d = _to_phone_question(call)
    assert isinstance(d, Say) and d.key == "ask_phone_missing" and d.asked == "phone"
    assert call.render(d) == "And what's the best phone number to reach you?"
    d = _confirm_then_yes(call, "It's 555 222 3333.")
    assert d == Book("haircut", at(NEXT_TUE, 15), "Dana Smith", "5552223333")


def test_phone_is_asked_only_once(call: Call) -> None:
    assert _to_phone_question(call).key == "ask_phone"  # type: ignore[union-attr]
    assert _confirm_then_yes(call, "That's fine.") == Book(
        "haircut", at(NEXT_TUE, 15), "Dana Smith", CALLER)
    # the manager books, then a second booking in the same call goes straight through
    call.state.booking, call.state.outcome = None, "booked"
    call.state.service = call.state.day = call.state.tod = None
    call.state.forget_slot()
    call.apply(Say("booked", asked="anything"))
    d = call.say("And a blow-dry tomorrow at 10")
    say = call.check(d, free_slots(call.business, TOMORROW, service="blowdry"))
    # name and number known: straight to the one confirmation, no number question
    assert say.key == "confirm" and say.asked == "confirm"
    assert call.render(say) == (
        "So that's a blow-dry tomorrow at 10 AM for Dana Smith. Shall I book that?")
    assert call.say("yes") == Book("blowdry", at(TOMORROW, 10), "Dana Smith", CALLER)


def test_reschedule_does_not_ask_for_a_number(call: Call) -> None:
    existing = Booking(
        id="b1", business="demo-salon", service="haircut", start=at(date(2026, 11, 25), 14),
        end=at(date(2026, 11, 25), 14, 30), name="Dana Smith", phone=CALLER, staff="Maria",
        status="booked",
    )
    text = "I'd like to reschedule my haircut on Wednesday"
    d = call.say(text)
    assert isinstance(d, Find)
    say = call.find([existing], text)  # found by caller ID: theirs, no owner check
    assert isinstance(say, Say) and say.key == "ask_new_day" and say.asked == "date"
    d = call.say("Friday at 4 please")
    say = call.check(d, free_slots(call.business, date(2026, 11, 27)))
    assert say.key == "confirm_move"
    d = call.say("Yes")
    assert d == Book("haircut", at(date(2026, 11, 27), 16), "Dana Smith", CALLER)
    assert not call.state.phone_settled


def test_new_time_at_the_phone_question_is_not_booked_as_the_old_one(call: Call) -> None:
    assert _to_phone_question(call).key == "ask_phone"  # type: ignore[union-attr]
    d = call.say("Actually, can we make it 4 pm instead?")
    assert not (isinstance(d, Book) and d.start == at(NEXT_TUE, 15))
    # the fresh availability answers: 4 PM is what is confirmed now (name and number known)
    assert isinstance(d, Say) and d.key == "confirm"
    assert call.state.offer is not None and call.state.offer.start == at(NEXT_TUE, 16)
    assert call.say("yes") == Book("haircut", at(NEXT_TUE, 16), "Dana Smith", CALLER)


def test_a_time_given_before_the_day_is_kept(call: Call) -> None:
    call.say("I'd like a haircut")
    call.say("at 3 pm please")
    d = call.say("next Tuesday")
    assert d == Check("haircut", NEXT_TUE, at(NEXT_TUE, 15))


def test_change_the_time_while_booking_is_not_a_reschedule(call: Call) -> None:
    call.say("I'd like a haircut next Tuesday")
    d = call.say("Actually, I'd like to change the time to 4 pm")
    assert d == Check("haircut", NEXT_TUE, at(NEXT_TUE, 16))
    assert call.state.intent == "book"


def test_a_single_service_business_needs_no_service_question(replies: dict[str, str]) -> None:
    from connectors.schedule import load_business

    clinic = load_business("evals/datasets/sgd/businesses/david-a-flakoll.yaml")
    one = Call(clinic, replies)
    d = one.say("Could you make it for the 7th at 4 pm?")
    assert isinstance(d, Check) and d.service == "appointment"
