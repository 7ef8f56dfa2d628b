"""On a phone line a service already agreed is replaced only by one heard clearly."""

from __future__ import annotations

from pathlib import Path

from connectors.schedule import load_business
from voice_agent.config import DEFAULT_BUSINESSES_DIR
from voice_agent.dialog.matching import match_service
from voice_agent.dialog.unclear import UNCLEAR_LOGPROB

from .test_existing_bookings import rig

BAD_LINE = UNCLEAR_LOGPROB - 0.3
CLEAR = UNCLEAR_LOGPROB + 0.2
DENTAL = load_business(DEFAULT_BUSINESSES_DIR / "demo-dental.yaml")


def _held(turn) -> list[dict]:
    return [e for e in turn.policy_events if e["event"] == "service_change_held"]


def test_a_spelling_that_sounds_the_same_counts_as_named_a_different_word_does_not() -> None:
    variant = match_service("actually, the hygenist please", DENTAL)
    assert variant is not None and variant.score < 100 and variant.sounds_exact
    lean = match_service("wednesday i paid for the price lean", DENTAL)
    assert lean is not None and lean.value == "cleaning" and not lean.sounds_exact
    assert match_service("a scale and polish", DENTAL).sounds_exact


async def test_a_garbled_please_does_not_turn_a_check_up_into_a_cleaning(tmp_path: Path) -> None:
    """"Yes, please." heard as "Yes. Clean." while the day was asked (2026-12-04 audio run)."""
    async with rig(tmp_path, business="demo-dental") as r:
        r.manager.greeting()
        await r.manager.handle_turn("Could I come in for a check-up?", stt_avg_logprob=CLEAR)
        turn = await r.manager.handle_turn("Yes. Clean.", stt_avg_logprob=BAD_LINE)
        assert r.manager.state.service.id == "checkup"
        [held] = _held(turn)
        assert held["kept"] == "checkup" and held["heard"] == "cleaning" and held["named"]
        assert "cleaning" not in turn.agent_text


async def test_a_near_miss_is_held_even_when_heard_well_but_the_rest_of_the_turn_counts(
        tmp_path: Path) -> None:
    async with rig(tmp_path, business="demo-dental") as r:
        r.manager.greeting()
        await r.manager.handle_turn("Could I come in for a check-up?", stt_avg_logprob=CLEAR)
        turn = await r.manager.handle_turn("Wednesday, I paid for the price. lean.",
                                           stt_avg_logprob=CLEAR)
        assert r.manager.state.service.id == "checkup"
        assert r.manager.state.day is not None and r.manager.state.day.weekday() == 2
        assert _held(turn) and not _held(turn)[0]["named"]


async def test_a_clear_change_of_mind_is_taken(tmp_path: Path) -> None:
    async with rig(tmp_path, business="demo-dental") as r:
        r.manager.greeting()
        await r.manager.handle_turn("I'd like a check-up next Tuesday.", stt_avg_logprob=CLEAR)
        turn = await r.manager.handle_turn("Actually, could I see the hygenist instead?",
                                           stt_avg_logprob=CLEAR)
        assert r.manager.state.service.id == "cleaning" and _held(turn) == []


async def test_a_self_repair_heard_badly_is_taken_when_it_names_both(tmp_path: Path) -> None:
    """The caller repeats "a check-up, well, actually no, it's the hygienist I need": the
    turn weighs the two services, so the one chosen replaces the one in hand."""
    async with rig(tmp_path, business="demo-dental") as r:
        r.manager.greeting()
        await r.manager.handle_turn("I'd like to book a check-up. Well, I can't cure you.",
                                    stt_avg_logprob=BAD_LINE)
        turn = await r.manager.handle_turn(
            "I'd like to book a check-up, well. Actually no. Sorry. The hygienist I need.",
            stt_avg_logprob=BAD_LINE)
        assert r.manager.state.service.id == "cleaning" and _held(turn) == []


async def test_a_repair_repeated_with_its_no_lost_keeps_the_service_it_ended_on(
        tmp_path: Path) -> None:
    """The caller's third go at "a check-up, actually no, the hygienist" came through as
    "... check up. Well, I truly know. Sorry, it's the hygienist I need." (espeak, 2026-12-04):
    the reading takes the first service named, but the turn ends on the one in hand."""
    async with rig(tmp_path, business="demo-dental") as r:
        r.manager.greeting()
        await r.manager.handle_turn(
            "I'd like to book a check-up, well. Actually no. Sorry. The hygienist I need.",
            stt_avg_logprob=BAD_LINE)
        assert r.manager.state.service.id == "cleaning"
        turn = await r.manager.handle_turn(
            "Hello, I'd like to more check up. Well, I truly know. Sorry, it's the hygienist I "
            "need. Friday, I'm if you can.", stt_avg_logprob=BAD_LINE)
        assert r.manager.state.service.id == "cleaning"
        [held] = _held(turn)
        assert held["kept"] == "cleaning" and held["heard"] == "checkup"
        assert r.manager.state.day is not None and r.manager.state.day.weekday() == 4


async def test_the_answer_to_which_service_is_taken_even_heard_badly(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.manager.greeting()
        await r.manager.handle_turn("A haircut please.", stt_avg_logprob=CLEAR)
        r.manager.state.asked = "service"
        turn = await r.manager.handle_turn("A blow-dry.", stt_avg_logprob=BAD_LINE)
        assert r.manager.state.service.id == "blowdry" and _held(turn) == []


async def test_typed_text_changes_service_as_before(tmp_path: Path) -> None:
    async with rig(tmp_path, business="demo-dental") as r:
        r.manager.greeting()
        await r.manager.handle_turn("Could I come in for a check-up?")
        await r.manager.handle_turn("Yes. Clean.")
        assert r.manager.state.service.id == "cleaning"


async def test_we_dont_offer_that_on_a_bad_line_is_a_request_to_repeat(tmp_path: Path) -> None:
    """"Hello, I need an examination." heard as "Hello, I need an explanation."."""
    async with rig(tmp_path, business="demo-dental") as r:
        r.manager.greeting()
        turn = await r.manager.handle_turn("Hello, I need an explanation.",
                                           stt_avg_logprob=BAD_LINE)
        assert turn.agent_text.startswith("I'm sorry, the line isn't very clear. Could you "
                                          "repeat which service you'd like? We offer ")
        clear = await r.manager.handle_turn("Hello, I need a facial.", stt_avg_logprob=CLEAR)
        assert clear.agent_text.startswith("I'm sorry, we don't offer that.")


def test_a_long_service_name_heard_as_words_that_sound_like_it_is_matched() -> None:
    """"a scale and polish" came through as "a skill in polish": matched by its Metaphone
    code, as a guess (the fuzzy floor, not named), never for short names that collide."""
    heard = match_service("Hi, I need a skill in polish on Thursday at 11.", DENTAL)
    assert heard is not None and heard.value == "cleaning" and heard.term == "scale and polish"
    assert heard.score < 100 and not heard.sounds_exact
    salon = load_business(DEFAULT_BUSINESSES_DIR / "demo-salon.yaml")
    assert match_service("No, maybe later.", salon) is None  # codes like "blow dry"
    assert match_service("I'd like to go along on the 11th.", DENTAL) is None
