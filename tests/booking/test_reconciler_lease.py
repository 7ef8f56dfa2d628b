"""Leases on reconciled intents: a worker that dies mid-intent does not strand it, and the
intent is still carried out exactly once.

The crash is simulated by a connector that lets the booking reach the calendar and then
raises a ``BaseException`` the reconciler does not catch, the way a killed process stops:
the intent stays ``reconciling`` with its lease, and no outcome is written.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from connectors.builtin import BuiltinCalendar
from tests.booking.test_reconciler import rows, store_url  # noqa: F401  (fixture)
from tests.dialog.test_manager import CALLER, TUE_3PM, rig
from voice_agent.booking.outbox import Outbox
from voice_agent.booking.reconciler import OutboxReconciler
from voice_agent.store.models import BookingIntent, utcnow


class WorkerDied(BaseException):
    """Stands in for SIGKILL: nothing after it runs."""


class DiesAfterBooking:
    """Books through the real calendar, then the worker dies before hearing the answer."""

    def __init__(self, inner: BuiltinCalendar) -> None:
        self.inner = inner
        self.capabilities = inner.capabilities
        self.books = 0

    async def book(self, **kw: Any) -> Any:
        self.books += 1
        await self.inner.book(**kw)
        raise WorkerDied()


class Counting:
    def __init__(self, inner: BuiltinCalendar) -> None:
        self.inner = inner
        self.capabilities = inner.capabilities
        self.books = 0

    async def book(self, **kw: Any) -> Any:
        self.books += 1
        return await self.inner.book(**kw)


def at(offset_s: float):
    return lambda: utcnow() + timedelta(seconds=offset_s)


def worker(r, connector, *, clock=utcnow, lease_s: float = 300) -> OutboxReconciler:
    biz = r.manager.business
    return OutboxReconciler(r.store, {biz.name: biz}, lambda _b: connector, grace_s=0,
                            lease_s=lease_s, clock=clock)


async def record_booking(r) -> None:
    await Outbox(r.store).record(
        business="demo-salon", call_id=r.call_id, action="book",
        payload={"service": "haircut", "start": TUE_3PM.isoformat(), "name": "Dana Smith",
                 "phone": CALLER})


def the_intent(r) -> BookingIntent:
    with Session(r.store) as session:
        return session.exec(select(BookingIntent)).one()


async def test_an_intent_left_reconciling_by_a_crash_is_reclaimed_and_booked_once(
        tmp_path: Path, store_url: str | None) -> None:  # noqa: F811
    async with rig(tmp_path, store_url=store_url) as r:
        await record_booking(r)
        dying = DiesAfterBooking(r.calendar)
        with pytest.raises(WorkerDied):
            await worker(r, dying).run_once()
        stranded = the_intent(r)
        assert stranded.status == "reconciling" and stranded.lease_owner is not None
        assert len(await r.calendar.list_bookings()) == 1  # it did reach the calendar

        survivor = Counting(r.calendar)
        # While the dead worker's lease runs, nobody else touches the intent.
        early = await worker(r, survivor, clock=at(299)).run_once()
        assert early.examined == 0 and survivor.books == 0
        # Once it has expired, another worker reclaims it; the same idempotency key finds the
        # booking the dead worker made instead of making a second one.
        late = await worker(r, survivor, clock=at(301)).run_once()
        assert (late.examined, late.done) == (1, 1) and survivor.books == 1
        [booking] = await r.calendar.list_bookings()
        finished = the_intent(r)
        assert (finished.status, finished.booking_id) == ("done", booking.id)
        assert (finished.lease_owner, finished.lease_until) == (None, None)
        assert (booking.start, booking.name) == (TUE_3PM, "Dana Smith")
        # Done is done: later rounds leave it alone.
        again = await worker(r, survivor, clock=at(10_000)).run_once()
        assert again.examined == 0 and survivor.books == 1
        assert len(await r.calendar.list_bookings()) == 1


async def test_a_worker_that_lost_its_lease_writes_nothing(tmp_path: Path,
                                                          store_url: str | None  # noqa: F811
                                                          ) -> None:
    """A stalled worker (lease expired, taken over) that wakes up later must not overwrite
    the outcome the new holder wrote."""
    async with rig(tmp_path, store_url=store_url) as r:
        await record_booking(r)
        stalled = worker(r, Counting(r.calendar))
        claimed = stalled._claim(the_intent(r).id)
        assert claimed is not None and claimed.status == "reconciling"
        taken_over = await worker(r, Counting(r.calendar), clock=at(301)).run_once()
        assert taken_over.done == 1
        # The stalled worker resumes with its stale copy: its write is fenced off.
        claimed.status, claimed.error = "pending", "stale"
        assert stalled._save(claimed) is False
        assert rows(r.store)[0]["status"] == "done" and the_intent(r).error is None
        assert len(await r.calendar.list_bookings()) == 1


async def test_rows_claimed_before_leases_existed_are_reclaimed(tmp_path: Path) -> None:
    """An intent a previous release left ``reconciling`` has no lease: it counts from its
    last update."""
    async with rig(tmp_path) as r:
        await record_booking(r)
        with Session(r.store) as session:
            intent = session.exec(select(BookingIntent)).one()
            intent.status, intent.updated_at = "reconciling", utcnow()
            session.add(intent)
            session.commit()
        assert (await worker(r, Counting(r.calendar), clock=at(60)).run_once()).examined == 0
        done = await worker(r, Counting(r.calendar), clock=at(301)).run_once()
        assert done.done == 1 and len(await r.calendar.list_bookings()) == 1
