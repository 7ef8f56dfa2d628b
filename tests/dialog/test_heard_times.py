"""A garbled answer to an offer of times, matched against the times just offered
(``dialog/heard_times.py``): the matcher on its own, then through the booking policy (the
``call`` driver) and the dialog manager. Only ever a question: the time is taken on a yes, and
booked only after the normal confirmation of the whole booking."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from connectors.base import Slot
from evals.simulator.caller_policy import classify_question
from voice_agent.dialog.heard_times import (
    Candidate,
    judge,
    normalise,
    reads_nothing,
    renderings,
    score_offer,
)
from voice_agent.dialog.policy import Book, Check
from voice_agent.dialog.replies import Say

from .test_manager import NY, rig
from .test_policy import NEXT_TUE, Call, at

WED, THU = NEXT_TUE + timedelta(days=1), NEXT_TUE + timedelta(days=2)


def slot(hour: int, minute: int = 0, day: date = NEXT_TUE) -> Slot:
    start = at(day, hour, minute)
    return Slot(start=start, end=start + timedelta(minutes=30), staff="Maria")


def ranked(text: str, slots: list[Slot]) -> list[str]:
    return [c.slot.start.strftime("%H:%M") for c in score_offer(text, slots)]


def verdict(text: str, slots: list[Slot]) -> tuple[str, list[str]]:
    v = judge(score_offer(text, slots))
    return v.kind, [c.slot.start.strftime("%H:%M") for c in v.candidates]


# -- the matcher -------------------------------------------------------------------------------


def test_heard_words_are_normalised_with_numbers_as_words() -> None:
    assert normalise("Path pass 2") == ("path", "pass", "two")
    assert normalise("2:30pm, please.") == ("two", "thirty", "pm", "please")
    assert normalise("4.30 P.M.") == ("four", "thirty", "pm")
    assert normalise("I'll take 1930.") == ("ill", "take", "nineteen", "thirty")
    assert normalise("5 o'clock") == ("five", "oclock")
    assert normalise("11:05") == ("eleven", "oh", "five")


def test_renderings_are_the_ways_a_time_is_said() -> None:
    said = {" ".join(r) for r in renderings(at(NEXT_TUE, 14, 30))}
    assert {"half past two", "two thirty", "half two", "fourteen thirty", "two thirty pm",
            "half past two afternoon"} <= said  # "in the" is framing, not evidence
    assert not any("tuesday" in r for r in said)
    quarter_to = {" ".join(r) for r in renderings(at(NEXT_TUE, 10, 45))}
    assert {"quarter to eleven", "ten forty five am"} <= quarter_to
    with_day = {" ".join(r) for r in renderings(at(NEXT_TUE, 14, 30), weekday=True)}
    assert {"half past two on tuesday", "tuesday two thirty"} <= with_day


@pytest.mark.parametrize(("heard", "offered", "meant"), [
    ("Hath past two.", [slot(13, 30), slot(14, 30), slot(15, 30)], "14:30"),
    ("Hive past fife.", [slot(9), slot(13), slot(17, 30)], "17:30"),
    ("Eleven. Fifty. Please.", [slot(10, 15), slot(11, 15), slot(11, 30)], "11:15"),
    ("I'll take 1930.", [slot(7, 30), slot(18, 15), slot(19, 30)], "19:30"),
])
def test_a_garbled_time_is_asked_about(heard: str, offered: list[Slot], meant: str) -> None:
    kind, ranking = verdict(heard, offered)
    assert ranking[0] == meant
    assert kind == "confirm"


@pytest.mark.parametrize(("heard", "offered", "meant"), [
    ("Path pass 2", [slot(13, 30), slot(14, 30), slot(15, 30)], "14:30"),
    ("Path pass 2", [slot(8, 30), slot(14, 30), slot(16, 30)], "14:30"),
    ("Love and Party", [slot(9), slot(11, 30), slot(16, 30)], "11:30"),
    ("quarter past four of them", [slot(14, 15), slot(16, 15), slot(17)], "16:15"),
])
def test_the_worst_garbles_rank_right_but_score_too_low_to_ask(
        heard: str, offered: list[Slot], meant: str) -> None:
    # Well ahead of the others, but no higher than answers that state no time score
    # ("One, two, three." 0.61 on the benchmark's train half): the which-time question stays.
    scores = score_offer(heard, offered)
    assert scores[0].slot.start.strftime("%H:%M") == meant
    assert scores[0].score - scores[1].score >= 0.2
    if heard.startswith("quarter"):
        assert scores[0].score >= 0.8  # and the regular reading reads it anyway (4:15 PM)
    else:
        assert judge(scores).kind == "none"


@pytest.mark.parametrize("heard", [
    "Thanks.", "Thank you for your information.", "It seems good to me.", "Dana Smith.",
    "Sorry, could you say that again?", "What about the other movie?",
])
def test_what_is_not_a_time_does_not_fire(heard: str) -> None:
    offered = [slot(9), slot(13), slot(17, 30)]
    assert verdict(heard, offered)[0] == "none"
    for minute in (0, 15, 30, 45):  # whatever the times offered
        offered = [slot(h, minute) for h in (10, 14, 16)]
        assert verdict(heard, offered)[0] == "none", (heard, minute)


def test_two_close_candidates_give_a_choice() -> None:
    # "half past" with two half hours offered: either, not the 5 PM
    kind, ranking = verdict("Half past.", [slot(14, 30), slot(15, 30), slot(17)])
    assert kind == "choice" and set(ranking[:2]) == {"14:30", "15:30"}
    # a tie is never a confirmation
    tie = [Candidate(slot(14, 30), 0.9, "x"), Candidate(slot(15, 30), 0.9, "y"),
           Candidate(slot(17), 0.2, "z")]
    assert judge(tie).kind == "choice"
    assert judge([tie[0], Candidate(slot(15, 30), 0.85, "y")]).kind != "confirm"


def test_the_weekday_counts_when_the_times_are_on_different_days() -> None:
    offered = [slot(14, 30), slot(14, 30, WED)]
    best = score_offer("Half past too on Wensday", offered)[0]
    assert best.slot.start.date() == WED and "wednesday" in best.said
    assert judge(score_offer("Half past too on Wensday", offered)).kind == "choice"


def test_only_a_reading_with_nothing_to_act_on_is_matched(call: Call) -> None:
    for text, nothing in [("Path pass 2", True), ("Love and Party", True), ("2:30", False),
                          ("yes", False), ("no thanks", False), ("the second one", False),
                          ("in the afternoon", False), ("I don't know", False)]:
        assert reads_nothing(call.understand(text)) is nothing, text


# -- through the policy ------------------------------------------------------------------------


def offer(call: Call, free: list[Slot]) -> str:
    d = call.say("I'd like a haircut next Tuesday")
    return call.render(call.check(d, free))


HALF_HOURS = [slot(13, 30), slot(14, 30), slot(15, 30)]
CHECK_2_30 = "Did you say 2:30 PM on Tuesday, December 1? Is that right?"


def test_garbled_answer_is_asked_about_and_booked_only_after_the_confirmation(
        call: Call) -> None:
    assert offer(call, HALF_HOURS) == ("On Tuesday, December 1 I have 1:30 PM, 2:30 PM and "
                                       "3:30 PM free for a haircut. Which time would you like?")
    d = call.say("Hath past two.")
    assert isinstance(d, Say) and d.key == "heard_time_check"
    assert call.render(d) == CHECK_2_30
    assert "confirm" in classify_question(call.render(d))  # the simulated caller: yes / no
    assert call.state.asked == "confirm" and call.state.offer is None
    event = call.state.heard_event
    assert event is not None and event["verdict"] == "confirm"
    assert event["candidates"][0]["start"][11:16] == "14:30"
    assert event["candidates"][0]["score"] > event["candidates"][1]["score"]

    d = call.say("Yes.")  # the time, not the booking: the name and the confirmation follow
    assert isinstance(d, Say) and d.key == "slot_free_ask_name"
    assert call.state.offer == HALF_HOURS[1] and not call.state.confirmed
    d = call.say("Dana Smith")
    assert isinstance(d, Say) and d.key == "ask_phone"
    d = call.say("Yes, that number's fine")
    assert isinstance(d, Say) and d.key == "confirm"
    assert "2:30 PM" in call.render(d)
    assert call.say("Yes please, book it") == Book("haircut", at(NEXT_TUE, 14, 30),
                                                   "Dana Smith", "+15551230001")


def test_no_to_the_heard_time_asks_which_time_and_never_asks_about_it_again(
        call: Call) -> None:
    offer(call, HALF_HOURS)
    assert call.say("Hath past two.").key == "heard_time_check"  # type: ignore[union-attr]
    d = call.say("No.")
    assert isinstance(d, Say) and d.key == "which_time" and d.asked == "time"
    assert call.render(d) == ("Sorry, which time would you like on Tuesday, December 1: "
                              "1:30 PM, 2:30 PM or 3:30 PM?")
    assert call.state.offer is None and call.state.heard_rejected == [at(NEXT_TUE, 14, 30)]
    d = call.say("Hath past two.")  # 2:30 was said no to: not asked about again
    assert not (isinstance(d, Say) and d.key.startswith("heard_time"))
    assert call.state.offer is None


def test_an_unclear_answer_to_the_heard_time_asks_which_time(call: Call) -> None:
    offer(call, HALF_HOURS)
    call.say("Hath past two.")
    d = call.say("Mm.")
    assert isinstance(d, Say) and d.key == "which_time"
    assert call.state.offer is None and call.state.heard_rejected == []


def test_a_real_reading_always_wins(call: Call) -> None:
    offer(call, HALF_HOURS)
    d = call.say("2:30 please")  # read: no matching, no question
    assert call.state.heard_event is None
    assert isinstance(d, Say) and d.key == "slot_free_ask_name"
    assert call.state.offer == HALF_HOURS[1]


def test_a_time_said_to_the_heard_question_wins_over_it(call: Call) -> None:
    offer(call, HALF_HOURS)
    call.say("Hath past two.")
    d = call.say("No, 3:30")
    assert isinstance(d, Say) and d.key == "slot_free_ask_name"
    assert call.state.offer == HALF_HOURS[2]
    for answer, held in (("the first one", HALF_HOURS[0]), ("Yes, two.", HALF_HOURS[1]),
                         ("Yes, three.", None)):
        other = Call(call.business, call.policy.replies)
        offer(other, HALF_HOURS)
        other.say("Hath past two.")
        other.say(answer)
        assert other.state.offer == held, answer


def test_a_non_time_answer_to_the_offer_is_not_asked_about(call: Call) -> None:
    offer(call, [slot(9), slot(13), slot(17, 30)])
    for text in ("Thank you for your information.", "Dana Smith.", "What else?"):
        d = call.say(text)
        assert isinstance(d, Say) and not d.key.startswith("heard_time"), text
        event = call.state.heard_event
        assert event is not None and event["verdict"] == "none"
        call.state.heard_event = None
    d = call.say("Yes.")  # read: the matcher does not even run
    assert call.state.heard_event is None and not (isinstance(d, Say) and d.key.startswith(
        "heard_time"))


def test_two_close_candidates_are_asked_as_a_choice(call: Call) -> None:
    offer(call, [slot(14, 30), slot(15, 30), slot(17)])
    d = call.say("Half past.")
    assert isinstance(d, Say) and d.key == "heard_time_choice" and d.asked == "time"
    text = call.render(d)
    assert text == "Sorry, which time did you say: 2:30 PM or 3:30 PM?"
    assert "time" in classify_question(text)
    d = call.say("The second one")  # of the two just named
    assert isinstance(d, Say) and call.state.offer == slot(15, 30)


def test_times_on_two_days_are_asked_about_with_their_day(call: Call) -> None:
    d = call.say("I'd like a haircut next Tuesday at 3")
    assert isinstance(d, Check)
    later = [slot(14, 30, WED), slot(15, 30, THU)]
    s = call.check(d, [], later=later)
    assert s.key == "slot_taken" and call.state.offered_times == later
    d = call.say("Hath past two.")
    assert isinstance(d, Say) and d.key == "heard_time_check"
    assert call.render(d) == "Did you say 2:30 PM on Wednesday, December 2? Is that right?"
    d = call.say("No")
    assert call.render(d) == ("Sorry, which time would you like: 2:30 PM on Wednesday, "
                              "December 2 or 3:30 PM on Thursday, December 3?")
    call.say("Hath past two.")  # said no to: not asked again (3:30 on Thursday is not it)
    assert call.state.heard_time is None and call.state.offer is None


# -- through the dialog manager ----------------------------------------------------------------


async def test_the_manager_records_the_scores_and_books_after_the_confirmation(
        tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.manager.greeting()
        t = await r.say("Hi, I'd like a haircut next Tuesday.")
        assert t.agent_text == ("On Tuesday, December 1 I have 9 AM, 1 PM and 5:30 PM free for "
                                "a haircut. Which time would you like?")
        t = await r.say("Hive past fife.")
        assert t.agent_text == "Did you say 5:30 PM on Tuesday, December 1? Is that right?"
        [event] = [e for e in t.policy_events if e["event"] == "heard_time"]
        assert event["verdict"] == "confirm" and event["candidates"][0]["start"] == (
            datetime(2026, 12, 1, 17, 30, tzinfo=NY).isoformat())
        assert all(isinstance(c["score"], float) for c in event["candidates"])
        t = await r.say("Yes.")
        assert t.agent_text.startswith("5:30 PM on Tuesday, December 1 is free")
        assert await r.bookings() == []
        await r.say("Dana Smith")
        t = await r.say("Yes, that number is fine.")
        assert t.agent_text.endswith("Shall I book that?") and "5:30 PM" in t.agent_text
        assert await r.bookings() == []
        await r.say("Yes, please.")
        [booking] = await r.bookings()
        assert booking.start == datetime(2026, 12, 1, 17, 30, tzinfo=NY)
