"""DialogManager end to end in text: the real BuiltinCalendar and Outbox on SQLite files, and a
deterministic OpenAI-compatible LLM double behind ``httpx.MockTransport``.

The clock is pinned to Monday 2026-11-23 09:00 in New York, as in EVAL_FORMAT.md's example.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import openai
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from connectors.base import Booking, ConnectorError
from connectors.builtin import BuiltinCalendar, create_calendar_tables
from connectors.builtin import make_engine as make_calendar_engine
from connectors.schedule import Business, load_business
from voice_agent.booking.outbox import Outbox
from voice_agent.config import DEFAULT_BUSINESSES_DIR
from voice_agent.dialog.manager import DialogManager, LLMOptions, LLMUnavailableError, TurnResult
from voice_agent.dialog.prompt import load_replies, render_system_prompt
from voice_agent.store.db import make_engine as make_store_engine
from voice_agent.store.db import upgrade
from voice_agent.store.models import BookingIntent, Call

PROMPTS = Path(__file__).resolve().parents[2] / "prompts"
NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=NY)
CALLER = "+15551230001"
EXAMPLE_CALENDAR = [
    {"service": "haircut", "start": "2026-12-01T14:00:00-05:00", "name": "Existing Client",
     "phone": "+15550000000", "staff": "Maria"},
]
TUE_3PM = datetime(2026, 12, 1, 15, 0, tzinfo=NY)
CHECK_TUE_3PM = {"service": "haircut", "date": "2026-12-01", "time": "15:00"}
ASK_PHONE_0001 = ("And shall we use the number you're calling from, ending in 0 0 0 1, "
                  "or is there a better number to reach you?")
FREE_TUE_3PM = "3 PM on Tuesday, December 1 is free for a haircut."
CLARIFY_NAME = "Sorry, I didn't catch the name. What name should I put the booking under?"
ASK_NAME_TUE_3PM = FREE_TUE_3PM + " Can I have your name for the booking, please?"
CONFIRM_TUE_3PM = ("So that's a haircut on Tuesday, December 1 at 3 PM for Dana Smith. "
                   "Shall I book that?")
BOOK_TUE_3PM = {"service": "haircut", "start": "2026-12-01T15:00", "name": "Dana Smith",
                "phone": CALLER}


# -- the LLM double -----------------------------------------------------------------------------


@dataclass
class FakeLLM:
    """Answers forced tool choices with the configured arguments and "auto" with text."""

    tool_args: dict[str, dict[str, Any]] = field(default_factory=dict)
    reply: str = "Sorry, could you say that once more?"
    down: bool = False
    requests: list[dict[str, Any]] = field(default_factory=list)

    def handler(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        body = json.loads(request.content)
        self.requests.append(body)
        choice = body.get("tool_choice")
        if isinstance(choice, dict):
            name = choice["function"]["name"]
            message: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": [{
                "id": f"call_{len(self.requests)}", "type": "function",
                "function": {"name": name, "arguments": json.dumps(self.tool_args.get(name, {}))},
            }]}
            finish = "tool_calls"
        else:
            message, finish = {"role": "assistant", "content": self.reply}, "stop"
        return httpx.Response(200, json={
            "id": f"chatcmpl-{len(self.requests)}", "object": "chat.completion", "created": 0,
            "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        })

    def chat_requests(self, tool_choice: str) -> list[dict[str, Any]]:
        def name(body: dict[str, Any]) -> str | None:
            c = body.get("tool_choice")
            return c["function"]["name"] if isinstance(c, dict) else c
        return [b for b in self.requests if name(b) == tool_choice]


class FailingBook:
    """The real calendar for availability, but every booking fails at the provider."""

    def __init__(self, inner: BuiltinCalendar) -> None:
        self.inner = inner
        self.capabilities = inner.capabilities
        self.book_calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def book(self, **kwargs: Any) -> Booking:
        self.book_calls += 1
        raise ConnectorError("calendar provider unavailable", retryable=True)


# -- the rig --------------------------------------------------------------------------------------


@dataclass
class Rig:
    manager: DialogManager
    calendar: BuiltinCalendar
    store: Engine
    llm: FakeLLM
    call_id: str
    turns: list[TurnResult] = field(default_factory=list)

    async def say(self, text: str) -> TurnResult:
        turn = await self.manager.handle_turn(text)
        self.turns.append(turn)
        return turn

    def intents(self) -> list[BookingIntent]:
        with Session(self.store) as session:
            return list(session.exec(select(BookingIntent)))

    async def bookings(self) -> list[Booking]:
        return await self.calendar.find_bookings(phone=CALLER)


async def settle(manager: DialogManager) -> None:
    """Wait for background tool proposals, when the manager runs them in the background."""
    wait = getattr(manager, "settle", None)
    if wait is not None:
        await wait()


@contextlib.asynccontextmanager
async def rig(
    tmp_path: Path,
    *,
    business: str = "demo-salon",
    calendar: Iterable[Mapping[str, Any]] = (),
    llm: FakeLLM | None = None,
    failing_book: bool = False,
    wrap: Callable[[BuiltinCalendar], Any] | None = None,
    store_url: str | None = None,
    propose_tools: bool = False,
    caller: str | None = CALLER,
) -> AsyncIterator[Rig]:
    biz: Business = load_business(DEFAULT_BUSINESSES_DIR / f"{business}.yaml")
    cal_engine = make_calendar_engine(f"sqlite:///{tmp_path / 'calendar.db'}")
    create_calendar_tables(cal_engine)
    store = make_store_engine(store_url or f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(store)
    with Session(store) as session:
        call = Call(business=biz.name, caller_phone=caller, clock_now=NOW)
        session.add(call)
        session.commit()
        call_id = call.id
    cal = BuiltinCalendar(business=biz, engine=cal_engine)
    await cal.seed(list(calendar))
    fake = llm or FakeLLM()
    http = httpx.AsyncClient(transport=httpx.MockTransport(fake.handler))
    client = openai.AsyncOpenAI(
        base_url="http://llm.test/v1", api_key="x", http_client=http, max_retries=0
    )
    manager = DialogManager(
        business=biz,
        connector=(wrap(cal) if wrap else FailingBook(cal) if failing_book  # type: ignore[arg-type]
                   else cal),
        llm=client,
        llm_options=LLMOptions(model="test-model"),
        prompt=render_system_prompt(PROMPTS, biz, NOW),
        replies=load_replies(PROMPTS),
        now=NOW,
        caller_phone=caller,
        outbox=Outbox(store),
        call_id=call_id,
        propose_tools=propose_tools,  # the background tool proposals (off by default)
    )
    try:
        yield Rig(manager, cal, store, fake, call_id)
    finally:
        await settle(manager)
        await http.aclose()
        cal_engine.dispose()
        store.dispose()


def proposals(turn: TurnResult) -> list[dict[str, Any]]:
    return [e for e in turn.policy_events if e["event"] == "tool_proposal"]


# -- tests ----------------------------------------------------------------------------------------


async def test_example_script_books_the_haircut(tmp_path: Path) -> None:
    # The LLM gets next Tuesday wrong (a week early) and the booking start wrong: the policy
    # executes what the caller said and logs the disagreement.
    llm = FakeLLM(tool_args={
        "check_availability": {"service": "haircut", "date": "2026-11-24", "time": "15:00"},
        "book_appointment": BOOK_TUE_3PM | {"start": "2026-11-24T15:00"},
    })
    async with rig(tmp_path, calendar=EXAMPLE_CALENDAR, llm=llm, propose_tools=True) as r:
        greeting = r.manager.greeting()
        assert greeting == "Thank you for calling Bella Hair Studio. How can I help you today?"

        t1 = await r.say("Hi, I'd like to book a haircut.")
        assert t1.agent_text == "Sure, a haircut. What day would you like to come in?"
        assert t1.llm_calls == 0 and t1.tool_calls == []

        t2 = await r.say("Next Tuesday at 3 pm.")
        assert t2.agent_text == ASK_NAME_TUE_3PM
        [check] = t2.tool_calls
        assert check["name"] == "check_availability" and check["status"] == "executed"
        assert check["arguments"] == CHECK_TUE_3PM
        assert "15:00" in check["result"]["free"] and "14:00" in check["result"]["free"]
        assert await r.bookings() == []  # no name yet, nothing booked

        t3 = await r.say("Dana Smith.")
        assert t3.agent_text == ASK_PHONE_0001
        assert t3.tool_calls == [] and await r.bookings() == []  # not booked before the number

        t3 = await r.say("That's fine.")
        assert t3.agent_text == CONFIRM_TUE_3PM
        assert t3.tool_calls == [] and await r.bookings() == []  # not booked before the yes

        t4 = await r.say("Yes please, book it.")
        assert t4.agent_text == (
            "You're all set, Dana Smith: a haircut on Tuesday, December 1 at 3 PM. "
            "Is there anything else I can help with?"
        )
        t5 = await r.say("No, that's all.")
        assert t5.agent_text == "Thank you for calling Bella Hair Studio. Goodbye!"
        assert t5.end_call and r.manager.state.ended
        assert r.manager.state.outcome == "booked"

        await settle(r.manager)
        [proposal] = proposals(t2)
        assert proposal["tool"] == "check_availability"
        assert proposal["accepted"] is False
        assert proposal["proposed"]["date"] == "2026-11-24"
        assert proposal["executed_arguments"] == CHECK_TUE_3PM
        [proposal] = proposals(t4)
        assert proposal["tool"] == "book_appointment" and proposal["accepted"] is False
        assert proposal["executed_arguments"] == BOOK_TUE_3PM

        [booking] = await r.bookings()
        assert booking.service == "haircut"
        assert booking.start == TUE_3PM
        assert booking.name == "Dana Smith"
        assert booking.phone == CALLER
        assert booking.staff == "Maria"

        [intent] = r.intents()
        assert intent.action == "book" and intent.status == "done"
        assert intent.booking_id == booking.id
        assert intent.call_id == r.call_id
        assert intent.payload["start"] == TUE_3PM.isoformat()
        assert intent.payload["name"] == "Dana Smith"
        [book] = t4.tool_calls
        assert book["status"] == "executed" and book["result"]["booking_id"] == booking.id


async def test_correct_proposals_are_accepted(tmp_path: Path) -> None:
    llm = FakeLLM(tool_args={"check_availability": CHECK_TUE_3PM,
                             "book_appointment": BOOK_TUE_3PM})
    async with rig(tmp_path, llm=llm, propose_tools=True) as r:
        r.manager.greeting()
        t1 = await r.say("my name is Dana Smith, I'd like a haircut next Tuesday at 3 pm")
        assert t1.agent_text == f"{FREE_TUE_3PM} {ASK_PHONE_0001}"
        t2 = await r.say("That's fine.")
        assert t2.agent_text == CONFIRM_TUE_3PM
        t2 = await r.say("yes")
        await settle(r.manager)
        assert [p["accepted"] for p in proposals(t1)] == [True]
        assert [p["accepted"] for p in proposals(t2)] == [True]
        assert t2.agent_text.startswith("You're all set, Dana Smith")
        forced = llm.chat_requests("check_availability") + llm.chat_requests("book_appointment")
        assert len(forced) == 2
        assert all(b["tools"] == forced[0]["tools"] for b in forced)


async def test_system_prompt_stays_byte_identical(tmp_path: Path) -> None:
    async with rig(tmp_path, calendar=EXAMPLE_CALENDAR, propose_tools=True) as r:
        system = r.manager.messages[0]
        assert system["role"] == "system"
        r.manager.greeting()
        for text in ("Hi, I'd like to book a haircut.", "blorp", "Next Tuesday at 3 pm.",
                     "Dana Smith.", "That's fine.", "Yes please, book it."):
            await r.say(text)
            assert r.manager.messages[0] == system
        await settle(r.manager)
        assert r.manager.state.outcome == "booked"
        assert len(r.llm.requests) >= 3  # the open turn, the check and the booking proposals
        assert {json.dumps(b["messages"][0]) for b in r.llm.requests} == {json.dumps(system)}
        assert system["content"] == r.manager.prompt.text
        assert r.manager.messages[1] == {"role": "system", "content": r.manager.prompt.clock}
        assert {json.dumps(b["messages"][1]) for b in r.llm.requests} == {
            json.dumps(r.manager.messages[1])}


async def test_slot_taken_offers_alternatives_and_books_nothing(tmp_path: Path) -> None:
    busy = [{"service": "haircut", "start": "2026-12-01T15:00:00-05:00", "name": f"Client {s}",
             "phone": "+15550000000", "staff": s} for s in ("Maria", "Tom")]
    async with rig(tmp_path, calendar=busy) as r:
        r.manager.greeting()
        await r.say("Hi, I'd like to book a haircut.")
        t = await r.say("Next Tuesday at 3 pm.")
        assert t.agent_text == (
            "I'm sorry, 3 PM on Tuesday, December 1 is already taken. The nearest free times "
            "are 2:30 PM and 3:30 PM on Tuesday, December 1. Which time would suit you?"
        )
        [check] = t.tool_calls
        assert "15:00" not in check["result"]["free"]
        assert r.manager.state.offer is None
        t = await r.say("Yes")  # "would one of those work?" -- not a confirmation
        assert not any(c["name"] == "book_appointment" for c in t.tool_calls)
        assert await r.bookings() == []
        assert r.intents() == []
        # the caller picks one: that exact time is held (from the fresh check), the name asked
        t = await r.say("3:30 then")
        assert t.agent_text == ("3:30 PM on Tuesday, December 1 is free for a haircut. "
                                "Can I have your name for the booking, please?")
        assert t.tool_calls == [] and await r.bookings() == []


async def test_connector_failure_leaves_pending_intent(tmp_path: Path) -> None:
    async with rig(tmp_path, failing_book=True) as r:
        r.manager.greeting()
        t = await r.say("my name is Dana Smith, I'd like a haircut next Tuesday at 3 pm")
        assert t.agent_text == f"{FREE_TUE_3PM} {ASK_PHONE_0001}"
        t = await r.say("That's fine.")
        assert t.agent_text == CONFIRM_TUE_3PM
        t = await r.say("Yes please, book it.")
        assert t.agent_text == (
            "I've noted your request for a haircut on Tuesday, December 1 at 3 PM. It isn't "
            "confirmed yet; a colleague will call you if there's any problem with it. Is there "
            "anything else?"
        )
        [book] = t.tool_calls
        assert book["name"] == "book_appointment" and book["status"] == "failed"
        [intent] = r.intents()
        assert intent.status == "pending"
        assert intent.booking_id is None
        assert intent.error == "calendar provider unavailable"
        assert intent.payload["start"] == TUE_3PM.isoformat()
        assert intent.payload["phone"] == CALLER
        assert await r.bookings() == []
        assert r.manager.state.booking_pending


async def test_after_pending_booking_caller_can_end_the_call(tmp_path: Path) -> None:
    async with rig(tmp_path, failing_book=True) as r:
        r.manager.greeting()
        await r.say("my name is Dana Smith, I'd like a haircut next Tuesday at 3 pm")
        await r.say("That's fine.")
        t = await r.say("Yes please, book it.")
        assert t.agent_text.startswith("I've noted your request for a haircut")
        t = await r.say("No, that's all.")
        assert t.agent_text == "Thank you for calling Bella Hair Studio. Goodbye!"
        assert t.end_call


async def test_llm_down_during_open_turn_raises(tmp_path: Path) -> None:
    llm = FakeLLM(down=True)
    async with rig(tmp_path, llm=llm) as r:
        r.manager.greeting()
        with pytest.raises(LLMUnavailableError):
            await r.say("blorp flib")  # nothing certain to do: only the LLM could answer
        assert r.manager.apology().startswith("I'm sorry, I'm having technical difficulties")


async def test_llm_down_during_check_still_answers_then_raises(tmp_path: Path) -> None:
    llm = FakeLLM()
    async with rig(tmp_path, llm=llm, propose_tools=True) as r:
        r.manager.greeting()
        await r.say("Hi, I'd like to book a haircut.")
        llm.down = True
        t = await r.say("Next Tuesday at 3 pm.")  # the policy's check needs no LLM
        assert t.agent_text == ASK_NAME_TUE_3PM
        await settle(r.manager)  # the background proposal found the LLM down
        assert {"event": "tool_proposal_failed", "tool": "check_availability"} in t.policy_events
        with pytest.raises(LLMUnavailableError):
            await r.say("Dana Smith.")
        assert await r.bookings() == []


async def test_unknown_service_refused(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.manager.greeting()
        t = await r.say("I'd like a massage next Tuesday at 3 pm")
        assert t.agent_text == (
            "I'm sorry, we don't offer that. We offer haircut, hair colouring and blow-dry. "
            "Which would you like?"
        )
        assert t.tool_calls == [] and t.llm_calls == 0
        assert r.manager.state.asked == "service"
        assert r.llm.requests == []


async def test_open_turn_reply_guard(tmp_path: Path) -> None:
    llm = FakeLLM(reply="Happy to help, what would you like to do?")
    async with rig(tmp_path, llm=llm) as r:
        r.manager.greeting()
        t = await r.say("blorp flib")
        assert t.agent_text == "Happy to help, what would you like to do?"
        assert {"event": "llm_reply_accepted", "attempt": 0} in t.policy_events
        assert llm.chat_requests("auto")
        # a reply stating availability without a tool result is replaced
        llm.reply = "We have a free slot at 3 tomorrow."
        t = await r.say("wibble wobble")
        assert t.agent_text == "Sorry, I didn't quite catch that. Could you say that again?"
        assert any(e["event"] == "llm_reply_replaced" for e in t.policy_events)


async def test_misheard_name_is_asked_for_again_by_name(tmp_path: Path) -> None:
    """'Then Carter.' (whisper's 'Ben Carter') is not a name: the clarifying question says
    it is the name that is missing, so the caller repeats the name, not the whole request."""
    llm = FakeLLM(reply="We have a free slot at 3 tomorrow.")  # rejected by the guard
    async with rig(tmp_path, llm=llm) as r:
        r.manager.greeting()
        t = await r.say("Hi, I'd like to book a haircut next Tuesday at 3 pm.")
        assert t.agent_text == ASK_NAME_TUE_3PM
        t = await r.say("Then Carter.")
        assert t.agent_text == CLARIFY_NAME
        assert r.manager.state.asked == "name" and await r.bookings() == []
        t = await r.say("Ben Carter.")
        assert t.agent_text == ASK_PHONE_0001
        t = await r.say("That's fine.")
        assert t.agent_text == CONFIRM_TUE_3PM.replace("Dana Smith", "Ben Carter")
        await r.say("Yes")
        [booking] = await r.bookings()
        assert booking.name == "Ben Carter"


async def test_a_refusal_at_the_name_question_is_replaced_by_the_re_ask(tmp_path: Path) -> None:
    llm = FakeLLM(reply="I'm sorry, but I can't assist with that.")
    async with rig(tmp_path, llm=llm) as r:
        r.manager.greeting()
        t = await r.say("Hi, I'd like to book a haircut next Tuesday at 3 pm.")
        assert t.agent_text == ASK_NAME_TUE_3PM and r.manager.state.asked == "name"
        t = await r.say("Oh, he should go mess.")  # whisper's 'Alicia Gomez'
        assert t.agent_text == CLARIFY_NAME
        assert {"event": "llm_reply_replaced",
                "reason": "asks nothing while a name answer is pending"} in t.policy_events


async def test_three_misunderstandings_transfer(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.manager.greeting()
        await r.say("blorp")
        await r.say("flib flob")
        t = await r.say("wibble")
        assert t.agent_text == (
            "Of course. I've noted your request and a colleague will call you back shortly. "
            "Thank you for calling, goodbye."
        )
        assert t.end_call and r.manager.state.outcome == "transferred"


async def test_number_given_at_the_phone_question_reaches_the_calendar(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.manager.greeting()
        t = await r.say("my name is Dana Smith, I'd like a haircut next Tuesday at 3 pm")
        assert t.agent_text == f"{FREE_TUE_3PM} {ASK_PHONE_0001}"
        assert [c["name"] for c in t.tool_calls] == ["check_availability"]
        assert r.manager.state.asked == "phone"
        t = await r.say("Please use 555 987 6543.")
        assert t.agent_text == CONFIRM_TUE_3PM and t.tool_calls == []
        t = await r.say("Yes please.")
        assert t.agent_text.startswith("You're all set, Dana Smith")
        [book] = t.tool_calls
        assert book["arguments"]["phone"] == "5559876543"
        [booking] = await r.calendar.find_bookings(phone="5559876543")
        assert booking.start == TUE_3PM and booking.name == "Dana Smith"
        assert await r.bookings() == []  # not under the caller ID
        [intent] = r.intents()
        assert intent.payload["phone"] == "5559876543"


async def test_reschedule_does_not_ask_for_a_number(tmp_path: Path) -> None:
    wed = {"service": "haircut", "start": "2026-11-25T14:00:00-05:00", "name": "Dana Smith",
           "phone": CALLER, "staff": "Maria"}
    async with rig(tmp_path, calendar=[wed]) as r:
        r.manager.greeting()
        await r.say("I'd like to reschedule my haircut on Wednesday")
        t = await r.say("Friday at 4 please")
        assert t.agent_text.endswith("Shall I go ahead?")
        t = await r.say("Yes")
        assert t.agent_text.startswith("Done, your haircut is now on Friday")
        assert [c["name"] for c in t.tool_calls] == ["reschedule_appointment"]
        assert all("number" not in turn.agent_text for turn in r.turns)


async def test_same_reply_three_times_in_a_row_hands_over(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.manager.greeting()
        t = await r.say("I'd like a haircut next Tuesday afternoon")
        question = t.agent_text
        assert question.endswith("Which time would you like?")
        answers = []
        for _ in range(3):
            answers.append(await r.say("Hmm, pardon?"))
            if answers[-1].end_call:
                break
        # the question is asked a second time; the third time in a row becomes a hand-over
        assert answers[0].agent_text == question and not answers[0].end_call
        last = answers[-1]
        assert last.end_call and r.manager.state.ended
        assert r.manager.state.outcome == "transferred"
        assert {"event": "loop_guard", "repeated": "offer_times"} in last.policy_events
        assert len(r.turns) <= 4  # handed over by the caller's third "pardon?" at the latest
        assert r.intents()[-1].action == "callback"  # no human reachable: a callback is noted


async def test_loop_guard_hand_over_is_what_the_caller_hears(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.manager.greeting()
        question = (await r.say("I'd like a haircut next Tuesday afternoon")).agent_text
        await r.say("Hmm, pardon?")
        t = await r.say("Hmm, pardon?")
        assert t.end_call
        assert t.agent_text != question
        assert "colleague" in t.agent_text


async def test_rejected_tool_call_goes_back_to_the_llm_once(tmp_path: Path) -> None:
    """An unconfirmed book_appointment in an open turn is refused with a caller-safe reason,
    the LLM retries once with that reason, and its second answer is spoken."""
    replies = iter([
        '{"name": "book_appointment", "arguments": {"service": "haircut", '
        '"start": "2026-11-24T15:00", "name": "X", "phone": "1"}}',
        "Happy to help. What would you like to book?",
    ])

    class RetryLLM(FakeLLM):
        def handler(self, request: httpx.Request) -> httpx.Response:
            if json.loads(request.content).get("tool_choice") == "auto":
                self.reply = next(replies)
            return super().handler(request)

    llm = RetryLLM()
    async with rig(tmp_path, llm=llm) as r:
        r.manager.greeting()
        t = await r.say("blorp flib")
        assert t.agent_text == "Happy to help. What would you like to book?"
        [rejected] = [c for c in t.tool_calls if c["status"] == "rejected"]
        assert rejected["name"] == "book_appointment"
        assert rejected["source"] == "content_json"
        retry = llm.chat_requests("auto")[-1]["messages"]
        assert retry[-1]["role"] == "tool" and "not given or confirmed" in retry[-1]["content"]
        # the retry's scratch messages never enter the call's context
        assert all(m.get("role") != "tool" for m in r.manager.messages)
        assert await r.calendar.find_bookings(phone="+15551230001") == []


async def test_thats_all_at_the_phone_question_keeps_the_caller_id_then_yes_books_and_ends(
        tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.manager.greeting()
        for line in ("Hi, I'd like to book a haircut.", "Next Tuesday at 3 pm.", "Dana Smith."):
            await r.say(line)
        t = await r.say("No, that's all, thanks.")  # no better number: the caller ID
        assert t.agent_text == CONFIRM_TUE_3PM and not t.end_call
        assert await r.bookings() == []  # nothing is written before the yes
        t = await r.say("Yes please, that's all.")
        assert t.end_call
        assert t.agent_text.startswith("You're all set, Dana Smith: a haircut on Tuesday, "
                                       "December 1 at 3 PM.")
        assert t.agent_text.endswith("goodbye!")
        [booking] = await r.calendar.find_bookings(phone="+15551230001")
        assert booking.start.isoformat() == "2026-12-01T15:00:00-05:00"


TRANSFER_CALL = ('<tool_call>{"name": "transfer_to_human", "arguments": '
                 '{"summary": "caller wants something unusual"}}</tool_call>')


async def test_the_llm_cannot_transfer_a_caller_who_did_not_ask_for_a_person(
        tmp_path: Path) -> None:
    async with rig(tmp_path, llm=FakeLLM(reply=TRANSFER_CALL)) as r:
        r.manager.greeting()
        t = await r.say("Can you find me a psychologist in Pleasant Hill?")
        assert not t.end_call
        assert [c["status"] for c in t.tool_calls if c["name"] == "transfer_to_human"] == [
            "rejected", "rejected"]
        assert r.manager.state.outcome != "transferred"


async def test_the_llm_may_transfer_when_the_caller_hints_at_a_person(tmp_path: Path) -> None:
    async with rig(tmp_path, llm=FakeLLM(reply=TRANSFER_CALL)) as r:
        r.manager.greeting()
        t = await r.say("Is there anybody there, maybe a staff person I could ask?")
        assert t.end_call and r.manager.state.outcome == "transferred"


async def test_a_caller_who_cannot_decide_gets_another_way_then_a_friendly_exit(
        tmp_path: Path) -> None:
    async with rig(tmp_path, calendar=EXAMPLE_CALENDAR) as r:
        r.manager.greeting()
        await r.say("Hi, I'd like to book a haircut.")
        await r.say("Next Tuesday at 2 pm.")  # 2 pm is Maria's; Tom is free
        await r.say("Dana Smith.")
        t = await r.say("That's fine.")
        assert t.agent_text == CONFIRM_TUE_3PM.replace("3 PM", "2 PM")
        t = await r.say("Sorry, I don't know.")
        assert t.agent_text.startswith("No problem. What day would suit you better?")
        assert r.manager.state.offer is None and not t.end_call
        t = await r.say("Yes")  # not a confirmation of anything: nothing is booked
        assert not any(c["name"] == "book_appointment" for c in t.tool_calls)
        assert await r.bookings() == []
        t = await r.say("I'm not sure, I don't know.")
        assert t.end_call and r.manager.state.outcome == "no_booking"
        assert t.agent_text.startswith("No problem at all. Feel free to call us back")


async def test_unsure_about_the_time_hears_the_times_again_no_preference_gets_one(
        tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.manager.greeting()
        t = await r.say("I'd like a haircut next Tuesday afternoon")
        assert t.agent_text == ("On Tuesday, December 1 I have 12 PM, 2 PM and 4:30 PM free for "
                                "a haircut. Which time would you like?")
        t = await r.say("Sorry, I don't know.")  # not a choice: the agent does not pick one
        assert t.agent_text == ("No problem. On Tuesday, December 1 I have 12 PM, 2 PM and "
                                "4:30 PM free. Which time would suit you, or would another day be "
                                "better?")
        assert r.manager.state.offer is None and r.manager.state.asked == "time"
        t = await r.say("Whatever you have.")  # no preference: the agent may choose
        assert t.agent_text.startswith("How about 12 PM on Tuesday, December 1?")
        assert r.manager.state.offer is not None and r.manager.state.asked == "name"
        t = await r.say("Dana Smith")
        t = await r.say("That's fine.")
        assert t.agent_text == CONFIRM_TUE_3PM.replace("3 PM", "12 PM")
        assert await r.bookings() == []
        await r.say("Yes")
        [booking] = await r.bookings()
        assert booking.start.hour == 12 and booking.name == "Dana Smith"


async def test_an_llm_reply_that_only_repeats_the_caller_is_replaced(tmp_path: Path) -> None:
    async with rig(tmp_path, llm=FakeLLM(reply="Hmm, pardon me?")) as r:
        r.manager.greeting()
        t = await r.say("Hmm... pardon me?")
        assert t.agent_text != "Hmm, pardon me?"
        assert {"event": "llm_reply_replaced", "reason": "repeats the caller"} in t.policy_events
