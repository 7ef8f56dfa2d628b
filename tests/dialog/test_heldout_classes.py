"""Classes of failure the held-out call scripts (``evals/calls/heldout/``) found, one test
group per mechanism, each with phrasings beyond the scripts' own: relative dates ("the Monday
after next", "a fortnight on Friday"), a weekday left out of a week ("next week, any day but
Monday"), self-repairs ("hang on", "on second thought"), minutes past / to the hour, parts of
day callers name ("lunchtime"), bounds with spelled hours ("not before eleven"),
a bare hour naming an offered time ("ten's fine"), titles in names, asking for a person,
a service described rather than named, a goodbye said with "right, okay", and a booking moved
by an amount ("push it back a fortnight"). Today is Monday 2026-11-23 (demo-salon, 09:00).
"""

from __future__ import annotations

from datetime import date, time

import pytest

from connectors.schedule import Business
from voice_agent.dialog.policy import Check, Find
from voice_agent.dialog.replies import Say
from voice_agent.dialog.timeparse import TimeOfDay, parse_date, parse_time, shift_days
from voice_agent.dialog.understanding import Constraint, understand

from .test_caller_classes import WED_2PM, afternoon_offer
from .test_policy import TODAY, TOMORROW, Call, at, free_slots

# -- relative dates ------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("the Monday after next", date(2026, 12, 7)),  # next Monday is the 30th
    ("Thursday after next, around 3", date(2026, 12, 10)),
    ("the week after next", date(2026, 12, 7)),
    ("Tuesday the week after next", date(2026, 12, 8)),
    ("in a fortnight", date(2026, 12, 7)),
    ("a fortnight on Friday", date(2026, 12, 11)),  # Friday 27th + 14
    ("Friday fortnight", date(2026, 12, 11)),
    ("a week today", date(2026, 11, 30)),
    ("a week tomorrow", date(2026, 12, 1)),
    ("a fortnight tomorrow", date(2026, 12, 8)),
    ("a week on Thursday", date(2026, 12, 3)),  # unchanged: bare Thursday (26th) + 7
    ("one day on Friday", date(2026, 11, 27)),  # not an offset: just Friday
    ("two days from tomorrow", date(2026, 11, 26)),
])
def test_relative_dates(text: str, expected: date) -> None:
    assert parse_date(text, TODAY) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("sometime next week, any day except Monday", date(2026, 12, 1)),
    ("next week apart from Monday", date(2026, 12, 1)),
    ("any day but Monday next week", date(2026, 12, 1)),
    ("the week after next, other than Monday", date(2026, 12, 8)),
    ("Tuesday, not Monday", date(2026, 11, 24)),
    ("next week", date(2026, 11, 30)),  # nothing left out: the week's first day, as before
    ("I'm away next week except Monday", None),  # Monday is the one day left: not guessed
])
def test_a_weekday_left_out_of_a_week(text: str, expected: date) -> None:
    assert parse_date(text, TODAY) == expected


# -- self-repairs --------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "day", "clock"), [
    ("Wednesday, oh no, hang on, Thursday's better, about half two", date(2026, 11, 26),
     time(14, 30)),
    ("Friday at 2, hold on, make it 3", date(2026, 11, 27), time(15)),
    ("Tuesday at 10. On second thought, Wednesday at 11", date(2026, 11, 25), time(11)),
    ("Wednesday, no, no, Thursday at 4", date(2026, 11, 26), time(16)),
    ("Friday at 2, come to think of it, Saturday at noon", date(2026, 11, 28), time(12)),
])
def test_a_repair_marker_replaces_what_came_before(text: str, day: date, clock: time) -> None:
    assert parse_date(text, TODAY) == day
    tod = parse_time(text)
    assert tod is not None and tod.exact == clock


def test_hold_on_to_is_not_a_repair() -> None:
    assert parse_date("Cancel Friday but hold on to the Tuesday one", TODAY) is not None
    assert parse_time("at 3, hold on to that") == TimeOfDay(exact=time(15))


# -- minutes past and to the hour ------------------------------------------------------------


@pytest.mark.parametrize(("text", "clock"), [
    ("at ten past nine", time(9, 10)),  # not 10:00
    ("twenty to three", time(14, 40)),
    ("twenty-five past four", time(16, 25)),
    ("ten after eleven", time(11, 10)),
    ("five to twelve", time(11, 55)),
    ("at 20 past 4", time(16, 20)),
    ("twenty past two in the afternoon", time(14, 20)),
    ("quarter to five", time(16, 45)),  # unchanged
])
def test_minutes_past_and_to(text: str, clock: time) -> None:
    tod = parse_time(text)
    assert tod is not None and tod.exact == clock


@pytest.mark.parametrize("text", ["open from ten to four", "5 to 7"])
def test_a_range_is_not_minutes_to(text: str) -> None:
    tod = parse_time(text)
    assert tod is None or tod.exact not in (time(15, 50), time(18, 55))


# -- parts of day callers name -------------------------------------------------------------------


@pytest.mark.parametrize(("text", "part", "clock"), [
    ("tomorrow lunchtime", "lunchtime", None),
    ("over lunch, about one", "lunchtime", time(13)),
    ("in my lunch hour", "lunchtime", None),
    ("after work, say half six", None, time(18, 30)),  # not a part of day: see below
])
def test_parts_of_day(text: str, part: str, clock: time | None) -> None:
    assert parse_time(text) == TimeOfDay(exact=clock, part=part)


def test_lunchtime_offers_only_lunchtime_times(call: Call) -> None:
    d = call.say("Anything for a haircut tomorrow lunchtime?")
    say = call.check(d, free_slots(call.business, TOMORROW))
    assert say.key == "offer_times"
    assert all(time(12) <= s.start.time() < time(14) for s in call.state.offered_times)


# -- bounds with spelled hours -------------------------------------------------------------------


@pytest.mark.parametrize(("text", "constraint"), [
    ("but not before eleven", Constraint("after", after=time(11))),
    ("after six, really", Constraint("after", after=time(18))),
    ("no later than three", Constraint("before", before=time(15))),
    ("not after four", Constraint("before", before=time(16))),
    ("anything after two is fine", Constraint("after", after=time(14))),
    ("no earlier than ten", Constraint("after", after=time(10))),
])
def test_bounds_with_spelled_hours(salon: Business, text: str, constraint: Constraint) -> None:
    assert understand(text, salon, TODAY, asked="time").constraint == constraint


@pytest.mark.parametrize(("text", "constraint"), [
    ("I can't get away before twelve", Constraint("after", after=time(12))),
    ("I'm busy until 2", Constraint("after", after=time(14))),
    ("I'm at work until half four", Constraint("after", after=time(16, 30))),
    ("I can't do anything after 4", Constraint("before", before=time(16))),
    ("anything before noon, I'm free all morning", Constraint("before", before=time(12))),
    ("I'm busy in the morning, but anything before 3 is fine", Constraint(
        "before", before=time(15))),
    ("I've got a meeting until 2", Constraint("after", after=time(14))),
    ("I can't wait until 3, anything before?", Constraint("before", before=time(15))),
])
def test_a_bound_the_caller_cannot_make_is_the_other_side(salon: Business, text: str,
                                                         constraint: Constraint) -> None:
    assert understand(text, salon, TODAY, asked="time").constraint == constraint


@pytest.mark.parametrize("text", [
    "2:30, not 2. I've got a meeting till 2.", "half two, as I can't get there before two",
    "Can we say 3:30? I'm at work until 3",
])
def test_a_time_given_with_its_reason_is_the_time(salon: Business, text: str) -> None:
    u = understand(text, salon, TODAY, asked="confirm")
    assert u.constraint is None and u.tod is not None and u.tod.exact in (
        time(14, 30), time(15, 30))


def test_not_before_eleven_offers_nothing_earlier(call: Call) -> None:
    d = call.say("A haircut on Saturday, but not before eleven")
    call.check(d, free_slots(call.business, date(2026, 11, 28)))
    assert call.state.offered_times
    assert all(s.start.time() >= time(11) for s in call.state.offered_times)


# -- a bare hour naming an offered time ---------------------------------------------------------


@pytest.mark.parametrize(("text", "hour"), [
    ("two's fine", 14), ("Let's go with twelve.", 12), ("12 works for me", 12),
    ("I'll take two, thanks", 14),
])
def test_a_bare_hour_takes_the_offered_time_on_it(call: Call, text: str, hour: int) -> None:
    afternoon_offer(call)  # 12 PM, 2 PM and 4:30 PM
    d = call.say(text)
    assert isinstance(d, Say) and d.key == "slot_free_ask_name"
    assert call.state.offer is not None and call.state.offer.start == at(TOMORROW, hour)


@pytest.mark.parametrize("text", [
    "four's fine",  # 4:30 was offered, not 4: no guess
    "not two", "two or twelve, either", "rather than two", "two people",
    "I'll bring 2 friends", "I have 2 kids with me",
])
def test_a_bare_hour_that_is_not_one_offered_time_holds_nothing(call: Call, text: str) -> None:
    afternoon_offer(call)
    call.say(text)
    assert call.state.offer is None


# -- names with titles ---------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "name"), [
    ("It's Mrs Patricia O'Neill.", "Patricia O'Neill"),
    ("My name is Mr. John Smith", "John Smith"),
    ("Dr Amy Chen", "Amy Chen"),
    ("It's Mr Kowalczyk, Tomasz Kowalczyk. That's K-O-W-A-L-C-Z-Y-K.", "Tomasz Kowalczyk"),
    ("Smith, John Smith.", "John Smith"),
    ("Mrs O'Neill", "Mrs O'Neill"),  # a title and a surname: that is how she is known
    ("Miss Jones", "Miss Jones"),
    ("Dana Smith", "Dana Smith"),
])
def test_titles_and_restated_surnames(salon: Business, text: str, name: str) -> None:
    assert understand(text, salon, TODAY, asked="name").name == name


# -- asking for a person ------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "Is there anyone there I can actually talk to?",
    "Could I have a word with the practice manager?",
    "Is there somebody I could speak with?",
    "I'd rather talk to a person, to be honest.",
    "I don't want to talk to a machine.",
    "Can I speak to the owner please?",
])
def test_asking_for_a_person(salon: Business, text: str) -> None:
    assert understand(text, salon, TODAY, asked="anything").wants_human


@pytest.mark.parametrize("text", [
    "I'm the office manager, booking for my boss", "Is anyone free at 3?",
    "Can anyone do a colour on Friday?",
])
def test_not_asking_for_a_person(salon: Business, text: str) -> None:
    assert not understand(text, salon, TODAY, asked="anything").wants_human


# -- a service described, not named ------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "I've cracked a tooth and I'm in agony", "I chipped my front tooth last night",
    "My filling's fallen out", "My tooth is killing me", "the side of my face is swollen",
    "Hi, I've lost a billing and it's quite sore.",  # "filling" misheard: "sore" still says it
])
def test_a_described_need_names_the_service_whose_alias_it_is(dental: Business,
                                                              text: str) -> None:
    u = understand(text, dental, TODAY, asked="anything")
    assert u.service is not None and u.service.id == "emergency"


def test_a_description_names_nothing_where_no_service_has_that_alias(salon: Business) -> None:
    assert understand("I've cracked a tooth and I'm in agony", salon, TODAY,
                      asked="anything").service is None


def test_a_named_service_wins_over_a_description(dental: Business) -> None:
    u = understand("My tooth hurts a bit, I'd like a check-up", dental, TODAY, asked="anything")
    assert u.service is not None and u.service.id == "checkup"


# -- a goodbye said with "right, okay" ---------------------------------------------------------


@pytest.mark.parametrize("text", [
    "Right, okay. No, that's all I wanted, cheers, bye.",
    "Okay great, that's everything, thanks.",
])
def test_done_with_an_acknowledgement_is_a_goodbye(call: Call, text: str) -> None:
    call.say("Do you do gel nails?")
    d = call.say(text)
    assert isinstance(d, Say) and d.key == "goodbye" and d.end_call


# -- a booking moved by an amount --------------------------------------------------------------


@pytest.mark.parametrize(("text", "days"), [
    ("push it back a fortnight", 14), ("could I push it back a week", 7),
    ("bring it forward a week", -7), ("move it a couple of days later", 2),
    ("put it back two weeks", 14), ("a week later if you can", 7),
    ("I need it for two weeks", None), ("move it to a week on Friday", None),
])
def test_shift_days(text: str, days: int | None) -> None:
    assert shift_days(text) == days


def test_push_it_back_a_week_same_time(call: Call) -> None:
    text = "Could I push my haircut back a week? Same time."
    assert isinstance(call.say(text), Find)
    wed = date(2026, 12, 2)
    assert call.find([WED_2PM], text) == Check("haircut", wed, at(wed, 14))


def test_bring_it_forward_a_day(call: Call) -> None:
    text = "Can I bring my haircut forward a day, same time?"
    call.say(text)
    assert call.find([WED_2PM], text) == Check("haircut", TOMORROW, at(TOMORROW, 14))


def test_a_shift_into_the_past_asks_where_to(call: Call) -> None:
    text = "Can you bring my haircut forward a week?"
    call.say(text)
    say = call.find([WED_2PM], text)
    assert isinstance(say, Say) and say.key == "ask_new_day"


# -- a weekday with its date --------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("Saturday the fifth", date(2026, 12, 5)),  # not this Saturday, the 28th
    ("Saturday, the 5th, at eleven", date(2026, 12, 5)),
    ("Tuesday 8th", date(2026, 12, 8)),
    ("Friday the fifth", None),  # the 5th is a Saturday: the day or the date is wrong
    ("this Sunday at 6 until the 4th", date(2026, 11, 29)),  # a date, then another
    ("Saturday December 5th", date(2026, 12, 5)),
])
def test_a_weekday_said_with_its_date(text: str, expected: date | None) -> None:
    assert parse_date(text, TODAY) == expected


# -- hedged times ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "clock"), [
    ("about 2ish", time(14)), ("around two-ish", time(14)), ("at 3:30 ish", time(15, 30)),
    ("elevenish in the morning", time(11)),
])
def test_a_hedged_hour_is_the_hour(text: str, clock: time) -> None:
    tod = parse_time(text)
    assert tod is not None and tod.exact == clock


# -- "the earlier of the two", "the first of those" ----------------------------------------------


@pytest.mark.parametrize(("text", "option"), [
    ("go for the earlier of the two", 1), ("the first of those is fine", 1),
    ("the last of them, please", -1), ("the second of the three", 2),
])
def test_an_option_named_of_those_offered(salon: Business, text: str, option: int) -> None:
    u = understand(text, salon, TODAY, asked="time")
    assert u.option == option and u.day is None and u.bare_hour is None


def test_the_earlier_of_two_alternatives_is_not_two_oclock(call: Call) -> None:
    afternoon_offer(call)  # 12 PM, 2 PM and 4:30 PM
    call.say("the earlier of the two")
    assert call.state.offer is not None and call.state.offer.start == at(TOMORROW, 12)


# -- the name given in parts ---------------------------------------------------------------------


@pytest.mark.parametrize(("text", "name"), [
    ("Surname's Oyelaran-Smith, first name Bola", "Bola Oyelaran-Smith"),
    ("My first name is Ana and my surname is Lopez, L O P E Z", "Ana Lopez"),
    ("last name Nguyen, first name Thi", "Thi Nguyen"),
])
def test_a_name_given_surname_and_first_name(salon: Business, text: str, name: str) -> None:
    assert understand(text, salon, TODAY, asked="name").name == name


# -- a yes taken back ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "Yes, oh wait, could we make it a bit later?", "Yeah, hang on, let me check my diary",
    "Yes. Actually, no, sorry.", "Sure, hold on a second",
])
def test_a_yes_taken_back_is_not_a_yes(salon: Business, text: str) -> None:
    u = understand(text, salon, TODAY, asked="confirm")
    assert not u.affirm and u.deny


@pytest.mark.parametrize("text", [
    "Yes, actually, that's perfect", "Yes, hold on to the other one though", "Yes please",
    "Yes, that sounds great. I can't wait.",
])
def test_a_yes_that_stands(salon: Business, text: str) -> None:
    assert understand(text, salon, TODAY, asked="confirm").affirm


def test_a_yes_taken_back_books_nothing(call: Call) -> None:
    call.check(call.say("A haircut tomorrow at 10"), free_slots(call.business, TOMORROW))
    call.say("Dana Smith")
    call.say("The number I'm calling from is fine.")
    assert call.state.asked == "confirm"
    d = call.say("Yes, oh wait, could we make it a bit later?")
    assert isinstance(d, Say) and call.state.offer is None


# -- bounds said after the time, ranges ------------------------------------------------------


@pytest.mark.parametrize(("text", "constraint"), [
    ("any time from half two onwards", Constraint("after", after=time(14, 30))),
    ("3 or later", Constraint("after", after=time(15))),
    ("4 at the latest", Constraint("before", before=time(16))),
    ("from ten till twelve is good", Constraint("between", after=time(10), before=time(12))),
    ("from 9 to 11", Constraint("between", after=time(9), before=time(11))),
])
def test_bounds_after_the_time_and_ranges(salon: Business, text: str,
                                          constraint: Constraint) -> None:
    assert understand(text, salon, TODAY, asked="time").constraint == constraint


@pytest.mark.parametrize(("text", "clock"), [
    ("ten till twelve is good", None),  # a range or 11:50: not read as either
    ("twenty till three", time(14, 40)), ("ten to four", time(15, 50)),
])
def test_till_only_after_minutes_no_hour_has(text: str, clock: time | None) -> None:
    tod = parse_time(text)
    assert (tod.exact if tod else None) == clock


@pytest.mark.parametrize(("text", "part"), [
    ("any time after lunch", "afternoon"), ("mornings are better for me", "morning"),
    ("afternoons suit me", "afternoon"),
])
def test_more_parts_of_day(text: str, part: str) -> None:
    assert parse_time(text) == TimeOfDay(part=part)


def test_cancel_that_is_a_repair_unless_asked_for(salon: Business) -> None:
    assert parse_time("at 3, cancel that, 4") == TimeOfDay(exact=time(16))
    asked = understand("I booked a haircut for my son for Saturday, can I cancel that?", salon,
                       TODAY, asked="anything")
    assert asked.wants_cancel
    assert not understand("at 3, cancel that, 4", salon, TODAY, asked="time").wants_cancel


@pytest.mark.parametrize("text", ["How long's a cleaning, roughly?", "how long's that take?"])
def test_how_longs_is_a_duration_question(salon: Business, text: str) -> None:
    assert understand(text, salon, TODAY, asked="anything").question == "duration"


@pytest.mark.parametrize("text", ["I need my roots done", "can you cover my greys on Saturday",
                                  "I'd like a balayage"])
def test_a_colour_described(salon: Business, dental: Business, text: str) -> None:
    u = understand(text, salon, TODAY, asked="anything")
    assert u.service is not None and u.service.id == "color"
    assert understand(text, dental, TODAY, asked="anything").service is None


# -- numbers said in words; another number offered but not caught ----------------------------


@pytest.mark.parametrize(("text", "digits"), [
    ("It's oh seven seven double oh, nine double oh, one two three", "07700900123"),
    ("zero seven seven zero zero nine zero zero one two three", "07700900123"),
    ("nine one seven, five five five, oh one four two", "9175550142"),
    ("my number is two one two five five five oh one nine nine, thanks", "2125550199"),
    ("Oh, it's 917 555 0142", "9175550142"),
])
def test_a_number_said_in_words(salon: Business, text: str, digits: str) -> None:
    assert understand(text, salon, TODAY, asked="phone").phone == digits


def test_another_number_not_caught_is_asked_again(call: Call) -> None:
    call.check(call.say("A haircut tomorrow at 10"), free_slots(call.business, TOMORROW))
    call.say("Dana Smith")
    assert call.state.asked == "phone"
    d = call.say("Could you use my mobile? It's, erm, hang on")
    assert isinstance(d, Say) and d.key == "clarify_phone" and d.asked == "phone"
    d = call.say("07700 900123")
    assert isinstance(d, Say) and d.key == "confirm" and call.state.phone == "07700900123"


@pytest.mark.parametrize("text", ["The number I'm calling from is fine.",
                                  "This number's fine, it's my cell.", "Yes, my mobile's fine"])
def test_the_calling_number_is_fine(call: Call, text: str) -> None:
    call.check(call.say("A haircut tomorrow at 10"), free_slots(call.business, TOMORROW))
    call.say("Dana Smith")
    d = call.say(text)
    assert isinstance(d, Say) and d.key == "confirm"


# -- cancels and moves said otherwise; a name that holds a staff name -------------------------


@pytest.mark.parametrize("text", [
    "I won't be needing my appointment on Saturday anymore",
    "please scrap my booking for Friday", "I don't need my haircut any more",
])
def test_other_ways_to_cancel(salon: Business, text: str) -> None:
    assert understand(text, salon, TODAY, asked="anything").wants_cancel


@pytest.mark.parametrize("text", [
    "I've got an appointment on Thursday, can I switch it to the Friday?",
    "Could I swap my Thursday one to Saturday?",
])
def test_other_ways_to_move(salon: Business, text: str) -> None:
    assert understand(text, salon, TODAY, asked="anything").wants_reschedule


def test_a_name_holding_a_staff_name_is_not_a_staff_request(salon: Business) -> None:
    u = understand("Ana-Maria Lopez", salon, TODAY, asked="name")
    assert u.name == "Ana-Maria Lopez" and u.staff is None
    assert understand("Can I book with Maria on Friday", salon, TODAY,
                      asked="anything").staff == "Maria"


# -- more ways to name a day --------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("a week Friday", date(2026, 12, 4)),  # British: a week on Friday (the 27th + 7)
    ("next week Friday", date(2026, 12, 4)),
    ("the first Monday in December", date(2026, 12, 7)),  # not the 1st, a Tuesday
    ("the last Friday of January", date(2027, 1, 29)),
    ("the second Tuesday of December", date(2026, 12, 8)),
    ("the second week of December, on the Wednesday", None),  # weeks of a month: ask
    ("the first of December", date(2026, 12, 1)),  # unchanged
])
def test_nth_weekdays_and_a_week_friday(text: str, expected: date | None) -> None:
    assert parse_date(text, TODAY) == expected


@pytest.mark.parametrize(("text", "constraint"), [
    ("any time before I pick the kids up at 3", Constraint("before", before=time(15))),
    ("after I finish work at 5", Constraint("after", after=time(17))),
    ("I'm free from 2 on Friday", Constraint("after", after=time(14))),
    ("from 2 to 4 on Friday", Constraint("between", after=time(14), before=time(16))),
    ("Saturday morning, the earlier the better", Constraint("earliest")),
    ("the later the better", Constraint("latest")),
])
def test_bounds_around_what_the_caller_does(salon: Business, text: str,
                                           constraint: Constraint) -> None:
    u = understand(text, salon, TODAY, asked="anything")
    assert u.constraint == constraint
    assert u.tod is None or u.tod.exact is None  # the clock time is a bound, not the time


# -- what was said before: a day asked about, a move asked for before the owner check ---------


def test_a_booking_said_with_an_hours_question_keeps_its_day(call: Call) -> None:
    d = call.say("I'd like a haircut on Friday at 2, and what time do you close on Friday?")
    fri = date(2026, 11, 27)
    assert d == Check("haircut", fri, at(fri, 14))
    assert call.policy.lead and call.policy.lead[0][0] == "answer_hours_day"


def test_a_closed_day_asked_about_is_no_context(call: Call) -> None:
    call.say("Are you open on Sunday?")
    d = call.say("A haircut please")
    assert isinstance(d, Say) and d.key == "ask_day"


def test_a_move_found_by_name_goes_where_first_asked(call: Call) -> None:
    from .test_caller_classes import OTHER_NUMBER, WED

    call.state.caller_phone = OTHER_NUMBER
    text = "It's Dana Smith, can I move my haircut on Wednesday to Friday, same time?"
    assert isinstance(call.say(text), Find)
    assert isinstance(call.find([], text), Find)  # nothing under this number: by name
    say = call.find([WED_2PM], text, by_name=True)
    assert isinstance(say, Say) and say.key == "verify_number"  # the day was said: Wednesday
    assert WED_2PM.start.date() == WED
    fri = date(2026, 11, 27)
    assert call.say("It's booked under +15551230001") == Check("haircut", fri, at(fri, 14))


# -- "what's the latest then?" after the nearest times; "say 4"; a question about a fee --------


def test_the_latest_after_nearest_times_is_the_days_latest(call: Call) -> None:
    sat = date(2026, 11, 28)
    d = call.say("Can I get a colour at half four on Saturday?")  # past closing for a colour
    say = call.check(d, free_slots(call.business, sat, service="color"))
    assert say.key == "outside_hours"
    assert [s.start for s in call.state.offered_times] == [at(sat, 14), at(sat, 14, 30)]
    d = call.say("Oh right, what's the latest I can come in then?")
    if not isinstance(d, Say):  # the day's times are checked again
        d = call.check(d, free_slots(call.business, sat, service="color"))
    assert call.state.offer is not None and call.state.offer.start == at(sat, 14, 30)


def test_the_earliest_after_nearest_times_is_the_days_earliest(call: Call) -> None:
    sat = date(2026, 11, 28)
    call.check(call.say("A haircut at 3 on Saturday"),
               free_slots(call.business, sat, taken=(time(15),)))  # 2:30 and 3:30 offered
    d = call.say("What's the earliest you've got?")
    if not isinstance(d, Say):
        d = call.check(d, free_slots(call.business, sat, taken=(time(15),)))
    assert call.state.offer is not None and call.state.offer.start == at(sat, 10)


@pytest.mark.parametrize(("text", "clock"), [("later the same day, say 4", time(16)),
                                              ("say half five", time(17, 30))])
def test_say_before_a_time(text: str, clock: time) -> None:
    tod = parse_time(text)
    assert tod is not None and tod.exact == clock


@pytest.mark.parametrize("text", ["Is there a charge if I cancel?", "Do you charge a fee for that?",
                                  "is there any fee for missed appointments?"])
def test_a_question_about_a_fee_is_not_guessed(salon: Business, text: str) -> None:
    assert understand(text, salon, TODAY, asked="anything").question == "other"


# -- the service meant when several are named ---------------------------------------------------


@pytest.mark.parametrize(("text", "service"), [
    ("a haircut on Friday at 10, and then a blow-dry straight after", "haircut"),  # first named
    ("I want a blow-dry, not a haircut", "blowdry"),
    ("Not a haircut, a blow-dry", "blowdry"),
    ("a haircut, no sorry, a colour", "color"),
    ("I don't want a haircut, just a blow-dry", "blowdry"),
    ("a trim instead of a colour", "haircut"),
    ("I'm not sure, maybe a trim", "haircut"),
])
def test_the_service_meant(salon: Business, text: str, service: str) -> None:
    u = understand(text, salon, TODAY, asked="anything")
    assert u.service is not None and u.service.id == service


def test_a_service_only_named_as_unwanted_is_none(salon: Business) -> None:
    u = understand("I don't want a haircut", salon, TODAY, asked="anything")
    assert u.service is None and not u.service_mentioned_unknown


# -- "I don't mind what time"; a polite exit --------------------------------------------------


def test_no_preference_about_who_is_not_about_when(call: Call) -> None:
    d = call.say("A haircut tomorrow afternoon, I don't mind who")
    say = call.check(d, free_slots(call.business, TOMORROW))
    assert say.key == "offer_times" and call.state.offer is None


def test_no_preference_with_the_request_holds_the_first_that_fits(call: Call) -> None:
    d = call.say("A haircut tomorrow morning, I don't mind what time")
    call.check(d, free_slots(call.business, TOMORROW))
    assert call.state.offer is not None and call.state.offer.start == at(TOMORROW, 9)


@pytest.mark.parametrize("text", ["Oh, never mind then, thanks anyway.", "Forget it, thanks.",
                                  "I'll leave it, thank you"])
def test_a_polite_exit_after_an_unknown_service_is_a_goodbye(call: Call, text: str) -> None:
    call.say("I'd like to book a perm for Saturday")
    d = call.say(text)
    assert isinstance(d, Say) and d.key == "goodbye" and d.end_call


def test_a_business_adds_its_own_descriptions(salon: Business) -> None:
    services = [s.model_copy(update={"described_as": ["fringe tidy"]}) if s.id == "haircut"
                else s for s in salon.services]
    business = salon.model_copy(update={"services": services})
    u = understand("could you tidy up my fringe, no, just a fringe tidy", business, TODAY,
                   asked="anything")
    assert u.service is not None and u.service.id == "haircut"
    assert understand("my fringe needs a tidy", salon, TODAY, asked="anything").service is None


@pytest.mark.parametrize("text", ["my tooth is fine, it's the crown I cracked",
                                  "the roots of the problem were never done"])
def test_a_description_needs_its_words_in_order_and_close(dental: Business, salon: Business,
                                                          text: str) -> None:
    for business in (dental, salon):
        assert understand(text, business, TODAY, asked="anything").service is None
