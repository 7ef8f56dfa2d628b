"""A turn heard badly that leaves a slot to ask for: the caller is asked to repeat it, once."""

from __future__ import annotations

from pathlib import Path

from voice_agent.dialog.unclear import UNCLEAR_LOGPROB

from .test_existing_bookings import rig

BAD_LINE = UNCLEAR_LOGPROB - 0.3
CLEAR = UNCLEAR_LOGPROB + 0.2


def _events(turn, kind: str) -> list[dict]:
    return [e for e in turn.policy_events if e["event"] == kind]


async def test_a_badly_heard_request_with_no_day_asks_to_repeat_the_day(tmp_path: Path) -> None:
    """"Hi, can I book a haircut tomorrow at 4?" heard with the day garbled."""
    async with rig(tmp_path) as r:
        r.manager.greeting()
        turn = await r.manager.handle_turn("I can't help you, haircut, the model last four.",
                                           stt_avg_logprob=BAD_LINE)
        assert turn.agent_text == ("Sure, a haircut. The line isn't very clear, so could you "
                                   "repeat the day you'd like?")
        assert r.manager.state.asked == "date"
        [event] = _events(turn, "ask_to_repeat")
        assert event["instead_of"] == "ask_day"
        again = await r.manager.handle_turn("Next Tuesday at 3 pm.", stt_avg_logprob=CLEAR)
        assert "3 PM on Tuesday, December 1 is free" in again.agent_text


async def test_the_same_request_heard_clearly_gets_the_plain_question(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.manager.greeting()
        turn = await r.manager.handle_turn("Hi, I'd like to book a haircut.",
                                           stt_avg_logprob=CLEAR)
        assert turn.agent_text == "Sure, a haircut. What day would you like to come in?"
        assert _events(turn, "ask_to_repeat") == []


async def test_typed_text_is_never_doubted(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.manager.greeting()
        turn = await r.manager.handle_turn("Hi, I'd like to book a haircut.")
        assert turn.agent_text == "Sure, a haircut. What day would you like to come in?"


async def test_a_badly_heard_service_is_asked_for_again_as_a_repeat(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.manager.greeting()
        turn = await r.manager.handle_turn("Hi, I'd like to book a, uh, for tomorrow morning.",
                                           stt_avg_logprob=BAD_LINE)
        assert turn.agent_text.startswith("I'm sorry, the line isn't very clear. Could you "
                                          "repeat which service you'd like? We offer ")
        assert r.manager.state.asked == "service"


async def test_asked_to_repeat_once_then_the_plain_question(tmp_path: Path) -> None:
    """A caller on a bad line is not asked to repeat the same thing over and over."""
    async with rig(tmp_path) as r:
        r.manager.greeting()
        first = await r.manager.handle_turn("Haircut, the model last four.",
                                            stt_avg_logprob=BAD_LINE)
        assert _events(first, "ask_to_repeat")
        second = await r.manager.handle_turn("A haircut, the model last four.",
                                             stt_avg_logprob=BAD_LINE)
        assert _events(second, "ask_to_repeat") == []
        assert "repeat" not in second.agent_text


async def test_a_badly_heard_day_and_time_offers_the_day_s_times_and_asks_for_the_time_again(
        tmp_path: Path) -> None:
    """"A haircut tomorrow at 4" heard as "haircut, tomorrow, last four": the day is known,
    the time was garbled; the offer stands and the time is asked for again."""
    async with rig(tmp_path) as r:
        r.manager.greeting()
        turn = await r.manager.handle_turn("Haircut, next Tuesday, last four.",
                                           stt_avg_logprob=BAD_LINE)
        assert turn.agent_text.startswith("On Tuesday, December 1 I have ")
        assert turn.agent_text.endswith("The line isn't very clear, so could you repeat the "
                                        "time you'd like?")
        assert r.manager.state.asked == "time"
        [event] = _events(turn, "ask_to_repeat")
        assert event["instead_of"] == "offer_times"


async def test_a_garbled_turn_with_nothing_certain_is_not_answered_by_the_llm(
        tmp_path: Path) -> None:
    """"Hello, I need an examination." heard as "Hello, I lead an improvisation.": the 0.5B
    model answered "Hello! I'm an AI designed to assist with phone calls..."."""
    async with rig(tmp_path) as r:
        r.manager.greeting()
        turn = await r.manager.handle_turn("Hello, I lead an improvisation.",
                                           stt_avg_logprob=BAD_LINE)
        assert turn.agent_text == "Sorry, I didn't quite catch that. Could you say that again?"
        assert _events(turn, "clarify_unheard") and r.llm.chat_requests("auto") == []
        heard = await r.manager.handle_turn("Hello, I lead an improvisation.",
                                            stt_avg_logprob=CLEAR)
        assert r.llm.chat_requests("auto")  # heard clearly: the LLM may answer freely
        assert _events(heard, "clarify_unheard") == []


def test_a_turn_heard_badly_gets_the_clarifying_question_not_a_free_reply() -> None:
    from voice_agent.dialog.unclear import clarify_unheard
    events: list[dict] = []
    assert clarify_unheard(-0.48, events)  # "Hello, I lead an improvisation."
    assert events == [{"event": "clarify_unheard", "stt_avg_logprob": -0.48}]
    assert not clarify_unheard(-0.12, events) and not clarify_unheard(None, events)
    assert len(events) == 1
