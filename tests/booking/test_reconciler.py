"""The booking outbox end to end: a call whose CRM fails leaves a pending intent, the caller is
told the truth, and the reconciler finishes it (once) or escalates it to a human.

Each test prints the outbox rows before and after reconciliation (``pytest -s`` shows them).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from connectors.base import ConnectorError, ConnectorTimeoutError
from connectors.builtin import BuiltinCalendar
from connectors.fake import FaultyConnector
from connectors.resilience import ConnectOptions, ResilientConnector
from tests.dialog.test_manager import CALLER, TUE_3PM, rig
from voice_agent.booking.outbox import Outbox
from voice_agent.booking.reconciler import OutboxReconciler
from voice_agent.store.models import BookingIntent, utcnow
from voice_agent.store.review import ReviewItem

FAST = ConnectOptions(timeout=0.2, max_retry=1, retry_interval=0.01, max_backoff=0.05)
PENDING_REPLY = ("I've noted your request for a haircut on Tuesday, December 1 at 3 PM. It "
                 "isn't confirmed yet; a colleague will call you if there's any problem with "
                 "it. Is there anything else?")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    return None if request.param == "sqlite" else request.getfixturevalue("pg_url")


def rows(engine: Engine) -> list[dict[str, Any]]:
    with Session(engine) as session:
        intents = session.exec(select(BookingIntent).order_by(BookingIntent.created_at)).all()
        return [{"action": i.action, "status": i.status, "attempts": i.attempts,
                 "booking": bool(i.booking_id), "error": (i.error or "")[:40]} for i in intents]


def show(label: str, engine: Engine) -> list[dict[str, Any]]:
    table = rows(engine)
    print(f"\n{label}:")
    for row in table:
        print(f"  {row}")
    return table


def reconciler(r, connector=None, **kw: Any) -> OutboxReconciler:
    biz = r.manager.business
    return OutboxReconciler(r.store, {biz.name: biz}, lambda _b: connector or r.calendar,
                            grace_s=kw.pop("grace_s", 0), **kw)


async def book_through_a_call(r) -> None:
    r.manager.greeting()
    await r.say("my name is Dana Smith, I'd like a haircut next Tuesday at 3 pm")
    await r.say("Yes please, book it.")
    turn = await r.say("That's fine.")
    assert turn.agent_text == PENDING_REPLY  # honest: not "booked"


async def test_a_hanging_crm_leaves_a_pending_intent_the_reconciler_books(
        tmp_path: Path, store_url: str | None) -> None:
    def hanging(cal: BuiltinCalendar) -> ResilientConnector:
        return ResilientConnector(FaultyConnector(cal, hang=True, ops={"book"}), kind="crm",
                                  options=FAST)

    async with rig(tmp_path, wrap=hanging, store_url=store_url) as r:
        await book_through_a_call(r)
        before = show("before", r.store)
        assert before == [{"action": "book", "status": "pending", "attempts": 1,
                           "booking": False, "error": "crm book timed out after 0.2 s"}]
        report = await reconciler(r).run_once()  # the CRM answers again
        after = show("after", r.store)
        assert (report.examined, report.done) == (1, 1)
        assert after == [{"action": "book", "status": "done", "attempts": 2, "booking": True,
                          "error": ""}]
        [booking] = await r.calendar.list_bookings()
        assert (booking.start, booking.phone, booking.name) == (TUE_3PM, CALLER, "Dana Smith")


async def test_a_booking_whose_answer_was_lost_is_not_doubled(
        tmp_path: Path, store_url: str | None) -> None:
    """The CRM booked but its answer never arrived; the reconciler's repeat carries the same
    idempotency key and finds that booking instead of making a second one."""
    def lossy(cal: BuiltinCalendar) -> FaultyConnector:
        return FaultyConnector(cal, ops={"book"}, after_success_exception=ConnectorTimeoutError())

    async with rig(tmp_path, wrap=lossy, store_url=store_url) as r:
        await book_through_a_call(r)
        [made] = await r.calendar.list_bookings()  # it did reach the calendar
        before = show("before", r.store)
        assert before[0]["status"] == "pending"
        await reconciler(r).run_once()
        after = show("after", r.store)
        assert after[0]["status"] == "done"
        assert [b.id for b in await r.calendar.list_bookings()] == [made.id]
        with Session(r.store) as session:
            assert session.exec(select(BookingIntent)).one().booking_id == made.id


async def test_crash_before_the_connector_call_is_finished(tmp_path: Path,
                                                           store_url: str | None) -> None:
    async with rig(tmp_path, store_url=store_url) as r:
        await Outbox(r.store).record(  # written, then the worker died
            business="demo-salon", call_id=r.call_id, action="book",
            payload={"service": "haircut", "start": TUE_3PM.isoformat(), "name": "Dana Smith",
                     "phone": CALLER},
        )
        assert show("before", r.store)[0]["status"] == "pending"
        report = await reconciler(r).run_once()
        assert report.done == 1 and show("after", r.store)[0]["status"] == "done"
        assert len(await r.calendar.list_bookings()) == 1


async def test_slot_gone_meanwhile_goes_to_human_review(tmp_path: Path,
                                                        store_url: str | None) -> None:
    async with rig(tmp_path, store_url=store_url) as r:
        await Outbox(r.store).record(
            business="demo-salon", call_id=r.call_id, action="book",
            payload={"service": "haircut", "start": TUE_3PM.isoformat(), "name": "Dana Smith",
                     "phone": CALLER},
        )
        for who in ("A", "B"):  # both staff members taken while the CRM was down
            await r.calendar.book(service="haircut", start=TUE_3PM, name=who, phone="1",
                                  idempotency_key=f"other-{who}")
        show("before", r.store)
        report = await reconciler(r).run_once()
        after = show("after", r.store)
        assert report.escalated == 1 and after[0]["status"] == "review"
        assert "no free slot" in after[0]["error"]
        with Session(r.store) as session:
            [item] = session.exec(select(ReviewItem)).all()
        assert item.status == "pending" and item.reason.startswith("not booked automatically")
        assert len(await r.calendar.list_bookings()) == 2  # nothing doubled


async def test_a_crm_that_stays_down_is_retried_then_escalated(tmp_path: Path,
                                                               store_url: str | None) -> None:
    async with rig(tmp_path, store_url=store_url) as r:
        await Outbox(r.store).record(
            business="demo-salon", call_id=r.call_id, action="book",
            payload={"service": "haircut", "start": TUE_3PM.isoformat(), "name": "Dana Smith",
                     "phone": CALLER},
        )
        down = FaultyConnector(r.calendar, fail_times=99, ops={"book"},
                               fake_exception=ConnectorError("CRM answered HTTP 503",
                                                             retryable=True))
        show("before", r.store)
        for attempt in (1, 2):
            report = await reconciler(r, down, max_attempts=3).run_once()
            assert report.retry_later == 1
            assert rows(r.store)[0] == {"action": "book", "status": "pending",
                                             "attempts": attempt, "booking": False,
                                             "error": "CRM answered HTTP 503"}
        report = await reconciler(r, down, max_attempts=3).run_once()
        after = show("after", r.store)
        assert report.escalated == 1 and after[0]["status"] == "review"
        assert after[0]["error"].startswith("gave up after 3 attempts")


async def test_a_fresh_intent_is_left_to_the_call_that_wrote_it(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        await Outbox(r.store).record(
            business="demo-salon", call_id=r.call_id, action="book",
            payload={"service": "haircut", "start": TUE_3PM.isoformat(), "name": "D",
                     "phone": CALLER},
        )
        report = await reconciler(r, grace_s=60).run_once()
        assert report.examined == 0 and rows(r.store)[0]["status"] == "pending"
        later = OutboxReconciler(r.store, {"demo-salon": r.manager.business},
                                 lambda _b: r.calendar, grace_s=60,
                                 clock=lambda: utcnow() + timedelta(seconds=61))
        assert (await later.run_once()).done == 1


async def test_pending_cancel_and_reschedule_are_finished(tmp_path: Path,
                                                          store_url: str | None) -> None:
    async with rig(tmp_path, store_url=store_url) as r:
        keep = await r.calendar.book(service="haircut", start=TUE_3PM, name="D", phone=CALLER,
                                     idempotency_key="a")
        gone = await r.calendar.book(service="haircut", start=TUE_3PM + timedelta(hours=1),
                                     name="D", phone=CALLER, idempotency_key="b")
        outbox = Outbox(r.store)
        await outbox.record(business="demo-salon", call_id=r.call_id, action="reschedule",
                            payload={"booking_id": keep.id,
                                     "new_start": (TUE_3PM + timedelta(hours=2)).isoformat()})
        await outbox.record(business="demo-salon", call_id=r.call_id, action="cancel",
                            payload={"booking_id": gone.id})
        await outbox.record(business="demo-salon", call_id=r.call_id, action="cancel",
                            payload={"booking_id": "no-such-booking"})  # already gone: done
        show("before", r.store)
        report = await reconciler(r).run_once()
        show("after", r.store)
        assert (report.examined, report.done) == (3, 3)
        [moved] = await r.calendar.list_bookings()
        assert moved.id == keep.id and moved.start == TUE_3PM + timedelta(hours=2)


async def test_two_workers_reconcile_each_intent_once(tmp_path: Path,
                                                      store_url: str | None) -> None:
    async with rig(tmp_path, store_url=store_url) as r:
        outbox = Outbox(r.store)
        for i in range(6):
            await outbox.record(
                business="demo-salon", call_id=r.call_id, action="book",
                payload={"service": "haircut",
                         "start": (TUE_3PM + timedelta(minutes=30 * i)).isoformat(),
                         "name": f"Caller {i}", "phone": f"+1555000000{i}"},
            )
        counting = FaultyConnector(r.calendar)
        reports = await asyncio.gather(reconciler(r, counting).run_once(),
                                       reconciler(r, counting).run_once())
        assert sum(rep.examined for rep in reports) == 6
        assert counting.calls.count("book") == 6
        assert {row["status"] for row in rows(r.store)} == {"done"}
        assert len(await r.calendar.list_bookings()) == 6
