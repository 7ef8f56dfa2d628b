"""Cancelling and moving existing bookings, end to end in text through DialogManager.handle_turn.

The same rig as ``test_manager``: the real BuiltinCalendar and Outbox on SQLite files in
``tmp_path`` and a deterministic LLM double behind ``httpx.MockTransport``; here the clock and
the caller ID are taken from each call script (``evals/calls/cancel``, ``evals/calls/reschedule``),
which are replayed the way ``evals.text_runner`` replays them.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import openai
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from connectors.base import Booking
from connectors.builtin import BuiltinCalendar, create_calendar_tables
from connectors.builtin import make_engine as make_calendar_engine
from connectors.schedule import Business, load_business
from evals.script import CallScript, load_script
from evals.simulator.caller_policy import ScriptedCaller
from voice_agent.booking.outbox import Outbox
from voice_agent.config import DEFAULT_BUSINESSES_DIR
from voice_agent.dialog.manager import DialogManager, LLMOptions, TurnResult
from voice_agent.dialog.prompt import load_replies, render_system_prompt
from voice_agent.dialog.understanding import understand
from voice_agent.store.db import make_engine as make_store_engine
from voice_agent.store.db import upgrade
from voice_agent.store.models import BookingIntent, Call

from .test_manager import PROMPTS, FakeLLM, settle

CALLS = Path(__file__).resolve().parents[2] / "evals" / "calls"
SCRIPTS = sorted([*(CALLS / "cancel").glob("*.yaml"), *(CALLS / "reschedule").glob("*.yaml")])
MAX_TURNS = 20  # as evals.text_runner

NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=NY)  # Monday
TODAY = NOW.date()
CALLER = "+15551230001"


def entry(service: str, start: datetime, name: str = "Dana Smith", phone: str = CALLER,
          staff: str | None = None) -> dict[str, Any]:
    e = {"service": service, "start": start.isoformat(), "name": name, "phone": phone}
    return e | ({"staff": staff} if staff else {})


WED_HAIRCUT = entry("haircut", datetime(2026, 11, 25, 14, 0, tzinfo=NY), staff="Maria")
THU_COLOUR = entry("color", datetime(2026, 11, 26, 11, 0, tzinfo=NY), staff="Tom")
FRI_HAIRCUT = entry("haircut", datetime(2026, 11, 27, 11, 0, tzinfo=NY), staff="Maria")


# -- the rig --------------------------------------------------------------------------------------


@dataclass
class Rig:
    manager: DialogManager
    calendar: BuiltinCalendar
    store: Engine
    llm: FakeLLM
    seeded: list[Booking]
    turns: list[TurnResult] = field(default_factory=list)

    async def say(self, text: str) -> TurnResult:
        turn = await self.manager.handle_turn(text)
        await settle(self.manager)
        self.turns.append(turn)
        return turn

    def intents(self) -> list[BookingIntent]:
        with Session(self.store) as session:
            return list(session.exec(select(BookingIntent)))

    async def all_bookings(self) -> dict[str, Booking]:
        """Every live booking of every phone seeded or calling, by id."""
        phones = {b.phone for b in self.seeded} | {self.manager.state.caller_phone or ""}
        found: dict[str, Booking] = {}
        for phone in phones - {""}:
            for b in await self.calendar.find_bookings(phone=phone):
                found[b.id] = b
        return found


@contextlib.asynccontextmanager
async def rig(
    tmp_path: Path,
    *,
    business: str = "demo-salon",
    now: datetime = NOW,
    caller: str | None = CALLER,
    calendar: Iterable[Mapping[str, Any]] = (),
    llm: FakeLLM | None = None,
    wrap: Any = None,
) -> AsyncIterator[Rig]:
    biz: Business = load_business(DEFAULT_BUSINESSES_DIR / f"{business}.yaml")
    cal_engine = make_calendar_engine(f"sqlite:///{tmp_path / 'calendar.db'}")
    create_calendar_tables(cal_engine)
    store = make_store_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(store)
    with Session(store) as session:
        call = Call(business=biz.name, caller_phone=caller, clock_now=now)
        session.add(call)
        session.commit()
        call_id = call.id
    cal = BuiltinCalendar(business=biz, engine=cal_engine)
    seeded = await cal.seed(list(calendar))
    fake = llm or FakeLLM()
    http = httpx.AsyncClient(transport=httpx.MockTransport(fake.handler))
    client = openai.AsyncOpenAI(
        base_url="http://llm.test/v1", api_key="x", http_client=http, max_retries=0
    )
    manager = DialogManager(
        business=biz, connector=wrap(cal) if wrap else cal, llm=client,
        llm_options=LLMOptions(model="test-model"),
        prompt=render_system_prompt(PROMPTS, biz, now), replies=load_replies(PROMPTS), now=now,
        caller_phone=caller, outbox=Outbox(store), call_id=call_id,
    )
    try:
        yield Rig(manager, cal, store, fake, seeded)
    finally:
        await settle(manager)
        await http.aclose()
        cal_engine.dispose()
        store.dispose()


async def play(r: Rig, script: CallScript) -> list[tuple[str, str]]:
    """Say the script's caller lines as ``evals.text_runner`` does; the (caller, agent) turns."""
    agent = r.manager.greeting()
    caller = ScriptedCaller(script.caller.turns, script.caller.facts,
                            caller_id=script.caller.phone)
    transcript: list[tuple[str, str]] = []
    while len(transcript) < MAX_TURNS:
        line = caller.reply(agent)
        if line is None:
            break
        turn = await r.say(line.text)
        agent = turn.agent_text
        transcript.append((line.text, agent))
        if turn.end_call:
            break
    return transcript


# -- the eval scripts -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", SCRIPTS, ids=[p.stem for p in SCRIPTS])
async def test_eval_script(tmp_path: Path, path: Path) -> None:
    script = load_script(path)
    calendar = [e.model_dump(exclude_none=True) for e in script.calendar]
    async with rig(tmp_path, business=script.business, now=script.now,
                   caller=script.caller.phone, calendar=calendar) as r:
        transcript = await play(r, script)
        log = "\n".join(f"caller: {c}\nagent:  {a}" for c, a in transcript)
        expect = script.expect
        assert expect.cancelled is not None
        [target] = [b for b in r.seeded if b.phone == script.caller.phone
                    and b.service == expect.cancelled.service
                    and b.start == expect.cancelled.start]
        after = await r.all_bookings()
        # every other booking is exactly as it was
        others = {b.id: b for b in r.seeded if b.id != target.id}
        assert {i: b for i, b in after.items() if i != target.id} == others, log
        if expect.outcome == "cancelled":
            assert target.id not in after, log
        else:
            assert expect.booking is not None
            moved = after.get(target.id)
            assert moved is not None, log
            assert moved.service == expect.booking.service, log
            assert moved.start == expect.booking.start, log
            assert moved.name == (expect.booking.name or target.name)
            assert moved.phone == target.phone
        assert r.manager.state.outcome == expect.outcome, log
        if expect.max_agent_turns is not None:
            assert len(transcript) + 1 <= expect.max_agent_turns, log
        done = [i for i in r.intents() if i.status == "done"]
        action = "cancel" if expect.outcome == "cancelled" else "reschedule"
        assert [(i.action, i.booking_id) for i in done] == [(action, target.id)], log


# -- understanding --------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "I need to cancel my appointment", "Hi, I need to cancel my haircut on Friday.",
])
def test_wants_cancel(salon: Business, text: str) -> None:
    u = understand(text, salon, TODAY, asked="anything")
    assert u.wants_cancel and not u.wants_reschedule and not u.cant_come


@pytest.mark.parametrize("text", [
    "I can't make it on Thursday", "I won't be able to make it on Thursday",
])
def test_cant_make_it_is_cancel_or_move_not_yet_said(salon: Business, text: str) -> None:
    """"I can't make it" asks neither for a cancellation nor for a move: the agent asks."""
    u = understand(text, salon, TODAY, asked="anything")
    assert u.cant_come
    assert not u.wants_cancel and not u.wants_reschedule
    assert u.day == date(2026, 11, 26)


def test_cancel_that_is_a_deny_not_a_cancellation(salon: Business) -> None:
    u = understand("cancel that", salon, TODAY, asked="confirm")
    assert u.deny and not u.affirm
    assert not u.wants_cancel and not u.wants_reschedule


@pytest.mark.parametrize("text", [
    "Can I move my haircut to Friday?", "I'd like to reschedule",
    "Hi, I'd like to reschedule my cleaning on Monday.",
])
def test_wants_reschedule(salon: Business, text: str) -> None:
    u = understand(text, salon, TODAY, asked="anything")
    assert u.wants_reschedule and not u.wants_cancel


def test_move_to_friday_reads_the_new_day(salon: Business) -> None:
    u = understand("Can I move my haircut to Friday?", salon, TODAY, asked="anything")
    assert u.service is not None and u.service.id == "haircut"
    assert u.day == date(2026, 11, 27)


# -- dialogs --------------------------------------------------------------------------------------


async def test_two_bookings_asks_which_then_cancels_the_one_meant(tmp_path: Path) -> None:
    async with rig(tmp_path, calendar=[WED_HAIRCUT, THU_COLOUR]) as r:
        r.manager.greeting()
        wed, thu = r.seeded
        t = await r.say("I want to cancel my appointment")
        assert t.agent_text == (
            "I can see your haircut on Wednesday, November 25 at 2 PM and your hair colouring on "
            "Thursday, November 26 at 11 AM. Which one do you mean?"
        )
        [find] = t.tool_calls
        assert find["name"] == "find_my_appointments" and find["arguments"] == {"phone": CALLER}
        assert r.manager.state.existing is None
        t = await r.say("the one on Thursday")
        assert t.agent_text == (
            "I can see your hair colouring on Thursday, November 26 at 11 AM. "
            "Shall I go ahead and cancel it?"
        )
        assert r.manager.state.existing == thu
        assert set(await r.all_bookings()) == {wed.id, thu.id}  # nothing cancelled yet
        t = await r.say("Yes please")
        assert t.agent_text.startswith(
            "Done, your hair colouring on Thursday, November 26 at 11 AM is cancelled.")
        assert await r.all_bookings() == {wed.id: wed}
        assert r.manager.state.outcome == "cancelled"


async def test_no_booking_under_caller_id_found_by_name(tmp_path: Path) -> None:
    booked_elsewhere = entry("haircut", datetime(2026, 11, 27, 11, 0, tzinfo=NY),
                             name="Marcus Lee", phone="+15559990000", staff="Tom")
    async with rig(tmp_path, calendar=[booked_elsewhere]) as r:
        r.manager.greeting()
        [booking] = r.seeded
        t = await r.say("Hi, I need to cancel my haircut")
        assert t.agent_text == (
            "I couldn't find an appointment under this phone number. "
            "What name is it booked under?"
        )
        assert r.manager.state.asked == "name"
        t = await r.say("Marcus Lee")
        # found by name, booked from another number: nothing is read out before the owner
        # check (the day of the booking, then the number it was booked under)
        assert t.agent_text == "Of course. Which day is the appointment on?"
        [find] = t.tool_calls
        assert find["name"] == "find_my_appointments"
        assert find["arguments"] == {"name": "Marcus Lee"}
        assert r.manager.state.asked == "date" and r.manager.state.existing is None
        t = await r.say("It's on Friday.")
        assert t.agent_text == (
            "For your security, what's the phone number the appointment was booked under?")
        assert r.manager.state.asked == "phone" and not r.manager.state.verified
        t = await r.say("It was booked under 555 999 0000.")
        assert t.agent_text == (
            "I can see your haircut on Friday, November 27 at 11 AM. "
            "Shall I go ahead and cancel it?"
        )
        assert r.manager.state.verified and r.manager.state.asked == "confirm"
        t = await r.say("Yes")
        assert t.agent_text.startswith("Done, your haircut on Friday, November 27 at 11 AM")
        assert booking.id not in await r.all_bookings()


async def test_no_booking_under_caller_id_nor_name(tmp_path: Path) -> None:
    async with rig(tmp_path, calendar=[FRI_HAIRCUT | {"phone": "+15559990000"}]) as r:
        r.manager.greeting()
        await r.say("I need to cancel my appointment")
        t = await r.say("Jane Nobody")
        assert t.agent_text == (
            "I'm sorry, I can't find an upcoming appointment under that name either. "
            "Would you like to book a new one?"
        )
        assert len(await r.all_bookings()) == 1
        assert r.intents() == []


async def test_declining_the_cancellation_keeps_the_booking(tmp_path: Path) -> None:
    async with rig(tmp_path, calendar=[FRI_HAIRCUT]) as r:
        r.manager.greeting()
        [booking] = r.seeded
        t = await r.say("I need to cancel my haircut on Friday")
        assert t.agent_text.endswith("Shall I go ahead and cancel it?")
        t = await r.say("No, actually I'll keep it")
        assert t.agent_text == (
            "No problem, I'll leave your appointment as it is. "
            "Is there anything else I can help with?"
        )
        assert not any(c["name"] == "cancel_appointment" for c in t.tool_calls)
        assert await r.all_bookings() == {booking.id: booking}
        assert r.intents() == []
        assert r.manager.state.outcome == "no_booking"
        t = await r.say("No, that's all")
        assert t.end_call


async def test_reschedule_to_a_taken_slot_offers_alternatives(tmp_path: Path) -> None:
    # Friday 4 pm is taken by both stylists.
    busy = [entry("haircut", datetime(2026, 11, 27, 16, 0, tzinfo=NY), name=f"Client {s}",
                  phone="+15550000000", staff=s) for s in ("Maria", "Tom")]
    async with rig(tmp_path, calendar=[WED_HAIRCUT, *busy]) as r:
        r.manager.greeting()
        original = r.seeded[0]
        t = await r.say("Hi, I need to move my haircut on Wednesday")
        assert t.agent_text == (
            "Sure, your haircut on Wednesday, November 25 at 2 PM. "
            "What day would you like to move it to?"
        )
        t = await r.say("Can we do Friday at 4 instead?")
        assert t.agent_text == (
            "I'm sorry, 4 PM on Friday, November 27 is already taken. The nearest free times "
            "are 3:30 PM and 4:30 PM on Friday, November 27. Which time would suit you?"
        )
        assert r.manager.state.offer is None
        assert not any(c["name"] == "reschedule_appointment" for c in t.tool_calls)
        t = await r.say("Yes")  # "would one of those work?" is not a confirmation
        assert not any(c["name"] == "reschedule_appointment" for c in t.tool_calls)
        assert (await r.all_bookings())[original.id] == original
        assert r.intents() == []
        t = await r.say("4:30 then")
        assert t.agent_text == (
            "I can move your haircut to Friday, November 27 at 4:30 PM. Shall I go ahead?"
        )
        assert (await r.all_bookings())[original.id] == original


async def test_cancel_writes_a_done_cancel_intent(tmp_path: Path) -> None:
    async with rig(tmp_path, calendar=[FRI_HAIRCUT]) as r:
        r.manager.greeting()
        [booking] = r.seeded
        await r.say("Hi, I need to cancel my haircut on Friday.")
        t = await r.say("Yes, please cancel it.")
        [cancel] = t.tool_calls
        assert cancel["name"] == "cancel_appointment" and cancel["status"] == "executed"
        assert cancel["arguments"] == {"booking_id": booking.id}
        [intent] = r.intents()
        assert (intent.action, intent.status) == ("cancel", "done")
        assert intent.booking_id == booking.id
        assert intent.payload == {"booking_id": booking.id}
        assert intent.call_id == r.manager.call_id


async def test_reschedule_writes_a_done_reschedule_intent(tmp_path: Path) -> None:
    new_start = datetime(2026, 11, 27, 16, 0, tzinfo=NY)
    async with rig(tmp_path, calendar=[WED_HAIRCUT]) as r:
        r.manager.greeting()
        [booking] = r.seeded
        await r.say("Hi, I'd like to reschedule my haircut on Wednesday")
        t = await r.say("Friday at 4 please")
        assert t.agent_text == (
            "I can move your haircut to Friday, November 27 at 4 PM. Shall I go ahead?"
        )
        t = await r.say("Yes, please.")
        assert t.agent_text == (
            "Done, your haircut is now on Friday, November 27 at 4 PM. "
            "Is there anything else I can help with?"
        )
        [move] = t.tool_calls
        assert move["name"] == "reschedule_appointment" and move["status"] == "executed"
        assert move["arguments"] == {"booking_id": booking.id, "new_start": "2026-11-27T16:00"}
        [intent] = r.intents()
        assert (intent.action, intent.status) == ("reschedule", "done")
        assert intent.booking_id == booking.id
        assert intent.payload["new_start"] == new_start.isoformat()
        moved = (await r.all_bookings())[booking.id]
        assert moved.start == new_start and moved.name == booking.name
        assert r.manager.state.outcome == "rescheduled"


async def test_no_the_other_one_switches_the_booking_to_cancel(tmp_path: Path) -> None:
    async with rig(tmp_path, calendar=[WED_HAIRCUT, FRI_HAIRCUT]) as r:
        r.manager.greeting()
        wed, fri = r.seeded
        t = await r.say("I need to cancel my haircut on Wednesday")
        assert t.agent_text.startswith("I can see your haircut on Wednesday, November 25 at 2 PM.")
        t = await r.say("No, sorry, the one on Friday")
        assert t.agent_text == (
            "I can see your haircut on Friday, November 27 at 11 AM. "
            "Shall I go ahead and cancel it?"
        )
        await r.say("Yes")
        assert await r.all_bookings() == {wed.id: wed}
        assert [(i.action, i.booking_id) for i in r.intents()] == [("cancel", fri.id)]


async def test_a_new_time_instead_of_yes_moves_rather_than_cancels(tmp_path: Path) -> None:
    async with rig(tmp_path, calendar=[WED_HAIRCUT]) as r:
        r.manager.greeting()
        [booking] = r.seeded
        t = await r.say("I've got a haircut on Wednesday and I can't make it")
        # cancel or move: the caller has not said which, so the agent asks
        assert t.agent_text == (
            "I can see your haircut on Wednesday, November 25 at 2 PM. Would you like to cancel "
            "it, or which day would you like to move it to?"
        )
        assert r.manager.state.asked == "date"
        t = await r.say("Could I do Friday at 4 instead?")
        assert t.agent_text == (
            "I can move your haircut to Friday, November 27 at 4 PM. Shall I go ahead?"
        )
        t = await r.say("Yes please")
        assert [c["name"] for c in t.tool_calls] == ["reschedule_appointment"]
        moved = (await r.all_bookings())[booking.id]
        assert moved.start == datetime(2026, 11, 27, 16, 0, tzinfo=NY)
        assert r.manager.state.outcome == "rescheduled"


async def test_after_a_move_thanks_does_not_offer_the_slot_again(tmp_path: Path) -> None:
    async with rig(tmp_path, calendar=[WED_HAIRCUT]) as r:
        r.manager.greeting()
        await r.say("I'd like to reschedule my haircut on Wednesday")
        await r.say("Friday at 4 please")
        await r.say("Yes")
        t = await r.say("Thank you")
        assert t.tool_calls == []
        assert "Shall I" not in t.agent_text
        t = await r.say("That's everything, thank you.")
        assert t.end_call
        assert [i.action for i in r.intents()] == ["reschedule"]


async def test_after_a_move_a_new_booking_is_booked_not_moved(tmp_path: Path) -> None:
    async with rig(tmp_path, calendar=[WED_HAIRCUT]) as r:
        r.manager.greeting()
        [booking] = r.seeded
        await r.say("I'd like to reschedule my haircut on Wednesday")
        await r.say("Friday at 4 please")
        await r.say("Yes")
        t = await r.say("I'd also like a blow-dry on Friday at 2")
        # the name is known from the moved booking: the free slot is said, the number asked
        assert t.agent_text == (
            "2 PM on Friday, November 27 is free for a blow-dry. And shall we use the number "
            "you're calling from, ending in 0 0 0 1, or is there a better number to reach you?"
        )
        assert [c["name"] for c in t.tool_calls] == ["check_availability"]
        t = await r.say("That's fine.")
        assert t.agent_text == (
            "So that's a blow-dry on Friday, November 27 at 2 PM for Dana Smith. "
            "Shall I book that?"
        )
        assert t.tool_calls == []
        t = await r.say("Yes")
        assert [c["name"] for c in t.tool_calls] == ["book_appointment"]
        after = await r.all_bookings()
        assert len(after) == 2
        assert after[booking.id].start == datetime(2026, 11, 27, 16, 0, tzinfo=NY)
        assert [i.action for i in r.intents()] == ["reschedule", "book"]
        assert r.manager.state.outcome == "booked"


def test_thats_everything_ends(salon: Business) -> None:
    u = understand("That's everything, thank you.", salon, TODAY, asked="anything")
    assert u.done and not u.deny


# -- when the calendar cannot (or will not) do it -------------------------------------------------


async def test_a_failing_cancel_is_noted_honestly_and_finished_by_the_reconciler(
        tmp_path: Path) -> None:
    from connectors.base import ConnectorStatusError
    from connectors.fake import FaultyConnector
    from voice_agent.booking.reconciler import OutboxReconciler

    def down(cal: BuiltinCalendar) -> FaultyConnector:
        return FaultyConnector(cal, fail_times=1, ops={"cancel"}, fake_exception=(
            ConnectorStatusError("crm answered HTTP 503", status_code=503)))

    async with rig(tmp_path, calendar=[FRI_HAIRCUT], wrap=down) as r:
        r.manager.greeting()
        [booking] = r.seeded
        await r.say("Hi, I need to cancel my haircut on Friday.")
        t = await r.say("Yes, please cancel it.")
        assert t.agent_text == (
            "I've noted that you'd like to cancel your haircut on Friday, November 27 at 11 AM. "
            "A colleague will take care of it and call you if there's any problem. Is there "
            "anything else?"
        )
        assert not t.end_call
        [intent] = r.intents()
        assert (intent.action, intent.status) == ("cancel", "pending")
        assert booking.id in await r.all_bookings()  # not cancelled yet: nothing claimed
        report = await OutboxReconciler(r.store, {"demo-salon": r.manager.business},
                                        lambda _b: r.calendar, grace_s=0).run_once()
        assert report.done == 1 and [i.status for i in r.intents()] == ["done"]
        assert await r.all_bookings() == {}


async def test_a_connector_that_cannot_reschedule_hands_the_move_to_a_human(
        tmp_path: Path) -> None:
    from connectors.base import Capability
    from connectors.fake import FaultyConnector

    def no_reschedule(cal: BuiltinCalendar) -> FaultyConnector:
        faulty = FaultyConnector(cal)
        faulty.capabilities = frozenset(Capability) - {Capability.RESCHEDULE}
        return faulty

    async with rig(tmp_path, calendar=[WED_HAIRCUT], wrap=no_reschedule) as r:
        r.manager.greeting()
        [booking] = r.seeded
        await r.say("Hi, I'd like to reschedule my haircut on Wednesday")
        await r.say("Friday at 4 please")
        t = await r.say("Yes, please.")
        assert t.agent_text == (
            "I've noted that you'd like to move your haircut on Wednesday, November 25 at 2 PM. "
            "A colleague will call you to arrange the new time. Is there anything else?"
        )
        [move] = t.tool_calls
        assert move["status"] == "failed" and "cannot reschedule" in move["reason"]
        [intent] = r.intents()
        assert (intent.action, intent.status) == ("reschedule", "escalated")
        assert (await r.all_bookings())[booking.id] == booking  # untouched
        assert "reschedule" not in r.manager.connector.calls  # type: ignore[attr-defined]
