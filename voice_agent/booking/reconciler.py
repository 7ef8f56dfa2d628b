"""The outbox reconciler: finishes booking intents a call left ``pending``, or escalates them.

An intent stays ``pending`` when the process died between writing it and hearing back from
the connector, or the connector timed out / answered 5xx / answered garbage. The reconciler
repeats the operation with the intent's own idempotency key, so a booking that did reach the
calendar is found rather than doubled:

- success → ``done`` (with the booking id);
- the slot is gone meanwhile, or the request is invalid → escalated: a booking becomes a review
  item (status ``review``) for a human to rebook or call back, a cancel/reschedule becomes
  ``escalated`` with the reason;
- any other connector failure → stays ``pending`` with ``attempts`` + 1 and the error, until
  ``max_attempts``, then escalated like above.

Text messages (``sms`` intents: confirmations, :mod:`voice_agent.booking.confirmations`) are
outbox intents too, sent through ``sms``; a booking, move or cancellation the reconciler
finishes is confirmed by text when ``confirmations`` is given (the caller was told so).

Several workers may run it at once: each intent is claimed with a conditional UPDATE
(``pending`` → ``reconciling``) that takes a *lease*: a fresh owner token and an expiry
(``lease_s``). Exactly one worker holds an intent at a time. A worker that dies holding one
(a crash, a kill, a lost node) never releases it, so an intent whose lease has expired is
claimable again; the repeat carries the same idempotency key, so a booking the dead worker
did make is found rather than doubled. Every write of an outcome is fenced by the owner
token: a worker that comes back after its lease was taken over writes nothing. Intents are
claimed one at a time, just before they are worked on, so a lease only has to outlast one
connector call (its retries and timeouts included), never a whole batch.

An intent is only touched once it has been pending for ``grace_s`` (the call that wrote it
may still be finishing it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, or_, update
from sqlmodel import Session, col, select

from connectors.base import (
    Booking,
    BookingNotFoundError,
    Connector,
    ConnectorError,
    InvalidRequestError,
    SlotUnavailableError,
)
from connectors.schedule import Business
from voice_agent.booking.sms import TwilioSms
from voice_agent.store.models import BookingIntent, new_id, utcnow
from voice_agent.store.review import create_review_item

__all__ = ["OutboxReconciler", "ReconcileReport"]

log = logging.getLogger(__name__)
BATCH = 100


@dataclass
class ReconcileReport:
    examined: int = 0
    done: int = 0
    escalated: int = 0
    retry_later: int = 0
    lease_lost: int = 0  # another worker took the intent over meanwhile: its outcome counts
    outcomes: list[dict[str, Any]] = field(default_factory=list)


class OutboxReconciler:
    def __init__(
        self,
        engine: Engine,
        businesses: Mapping[str, Business],
        connector_for: Callable[[Business], Connector],
        *,
        grace_s: float = 60.0,
        max_attempts: int = 5,
        lease_s: float = 300.0,
        clock: Callable[[], datetime] = utcnow,
        sms: TwilioSms | None = None,
        confirmations: Any = None,  # Confirmations (it imports this module)
    ) -> None:
        self.engine = engine
        self.businesses = businesses
        self.connector_for = connector_for
        self.grace = timedelta(seconds=grace_s)
        self.max_attempts = max_attempts
        self.lease = timedelta(seconds=lease_s)
        self.clock = clock
        self.sms = sms
        self.confirmations = confirmations

    async def run_once(self) -> ReconcileReport:
        report = ReconcileReport()
        for intent_id in await asyncio.to_thread(self._due_ids):
            intent = await asyncio.to_thread(self._claim, intent_id)
            if intent is None:  # another worker was first
                continue
            report.examined += 1
            outcome = await self._reconcile(intent)
            report.outcomes.append({"intent": intent.id, "action": intent.action,
                                    "status": intent.status, "outcome": outcome})
            if outcome == "done":
                report.done += 1
            elif outcome == "retry_later":
                report.retry_later += 1
            elif outcome == "lease_lost":
                report.lease_lost += 1
            else:
                report.escalated += 1
        if report.examined:
            log.info("outbox reconciled %d intents: %d done, %d escalated, %d retry later, "
                     "%d lost to another worker", report.examined, report.done,
                     report.escalated, report.retry_later, report.lease_lost)
        return report

    async def run_one(self, intent_id: str) -> str | None:
        """Claim and carry out one intent now (a text just queued); None if not claimable."""
        intent = await asyncio.to_thread(self._claim, intent_id)
        return None if intent is None else await self._reconcile(intent)

    async def run_forever(self, interval_s: float) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("outbox reconciliation round failed")
            await asyncio.sleep(interval_s)

    # -- claiming ----------------------------------------------------------------------------

    def _claimable(self, now: datetime) -> ColumnElement[bool]:
        """Pending past the grace period, or reconciling under a lease that has expired
        (a row claimed by a release without leases counts from its last update)."""
        status, updated = col(BookingIntent.status), col(BookingIntent.updated_at)
        lease_until = col(BookingIntent.lease_until)
        return or_(
            and_(status == "pending", updated <= now - self.grace),
            and_(status == "reconciling", lease_until.is_not(None), lease_until <= now),
            and_(status == "reconciling", lease_until.is_(None), updated <= now - self.lease),
        )

    def _due_ids(self) -> list[str]:
        """Claimable intents, oldest first; texts only on a worker that can send them."""
        mine = [self._claimable(self.clock())]
        if self.sms is None:
            mine.append(col(BookingIntent.action) != "sms")
        with Session(self.engine) as session:
            return list(session.exec(
                select(BookingIntent.id).where(*mine)
                .order_by(col(BookingIntent.created_at)).limit(BATCH)
            ))

    def _claim(self, intent_id: str) -> BookingIntent | None:
        """Take the intent's lease (a conditional UPDATE: of two workers, one wins)."""
        now, owner = self.clock(), f"reconciler-{new_id()}"
        with Session(self.engine, expire_on_commit=False) as session:
            result = session.exec(  # type: ignore[call-overload]
                update(BookingIntent)
                .where(col(BookingIntent.id) == intent_id, self._claimable(now))
                .values(status="reconciling", lease_owner=owner, lease_until=now + self.lease,
                        updated_at=now)
            )
            session.commit()
            if result.rowcount != 1:
                return None
            intent = session.get(BookingIntent, intent_id, populate_existing=True)
        if intent is not None and intent.lease_until is not None and (
                intent.lease_until.tzinfo is None):  # SQLite hands datetimes back naive
            intent.lease_until = intent.lease_until.replace(tzinfo=now.tzinfo)
        return intent

    def _save(self, intent: BookingIntent) -> bool:
        """Write the outcome and release the lease, only if we still hold it."""
        owner, intent.lease_owner, intent.lease_until = intent.lease_owner, None, None
        intent.updated_at = self.clock()
        with Session(self.engine) as session:
            result = session.exec(  # type: ignore[call-overload]
                update(BookingIntent)
                .where(col(BookingIntent.id) == intent.id,
                       col(BookingIntent.lease_owner) == owner)
                .values(status=intent.status, booking_id=intent.booking_id, error=intent.error,
                        attempts=intent.attempts, updated_at=intent.updated_at,
                        lease_owner=None, lease_until=None)
            )
            session.commit()
        if result.rowcount != 1:
            log.warning("outbox intent %s: lease lost to another worker, outcome %r not "
                        "written", intent.id, intent.status)
            return False
        return True

    # -- one intent --------------------------------------------------------------------------

    async def _reconcile(self, intent: BookingIntent) -> str:
        business = self.businesses.get(intent.business)
        if business is None:
            return await self._escalate(intent, f"business {intent.business!r} is not configured")
        intent.attempts += 1
        done: Booking | None = None
        try:
            if intent.action == "sms":
                booking_id = await self._text(intent)
            else:
                done = await self._repeat(intent, business, self.connector_for(business))
                booking_id = done.id
        except (SlotUnavailableError, InvalidRequestError) as exc:
            return await self._escalate(intent, exc.message)
        except BookingNotFoundError as exc:
            if intent.action == "cancel":  # already gone: what was asked for is true
                return await self._finish(intent, "done", intent.payload.get("booking_id"))
            return await self._escalate(intent, exc.message)
        except (ConnectorError, KeyError, ValueError, TypeError) as exc:
            message = exc.message if isinstance(exc, ConnectorError) else (
                f"unreadable intent payload ({type(exc).__name__})")
            final = not isinstance(exc, ConnectorError) or (
                intent.action == "sms" and not exc.retryable)  # e.g. not a mobile number
            if intent.attempts >= self.max_attempts or final:
                return await self._escalate(intent, f"gave up after {intent.attempts} attempts: "
                                                    f"{message}")
            intent.status, intent.error = "pending", message
            saved = await asyncio.to_thread(self._save, intent)
            return "retry_later" if saved else "lease_lost"
        outcome = await self._finish(intent, "done", booking_id)
        if outcome == "done" and done is not None and self.confirmations is not None:
            kind = {"book": "booked", "reschedule": "rescheduled", "cancel": "cancelled"}
            await self.confirmations.send(kind[intent.action], business, done,
                                          call_id=intent.call_id)
        return outcome

    async def _text(self, intent: BookingIntent) -> str:
        if self.sms is None:
            raise InvalidRequestError("text messages are not configured on this worker")
        p = intent.payload
        return (await self.sms.send(to=p["to"], body=p["body"])).sid

    async def _repeat(self, intent: BookingIntent, business: Business, connector: Connector
                      ) -> Booking:
        p = intent.payload
        if intent.action == "book":
            start = _aware(p["start"], business)
            return await connector.book(
                service=p["service"], start=start, name=p["name"], phone=p["phone"],
                staff=p.get("staff"), idempotency_key=intent.idempotency_key,
            )
        if intent.action == "cancel":
            return await connector.cancel(p["booking_id"])
        if intent.action == "reschedule":
            return await connector.reschedule(p["booking_id"], _aware(p["new_start"], business))
        raise ValueError(f"unknown intent action {intent.action!r}")

    async def _finish(self, intent: BookingIntent, status: str, booking_id: str | None) -> str:
        intent.status, intent.booking_id, intent.error = status, booking_id, None
        if not await asyncio.to_thread(self._save, intent):
            return "lease_lost"
        log.info("outbox intent %s (%s) completed by the reconciler", intent.id, intent.action)
        return status

    async def _escalate(self, intent: BookingIntent, reason: str) -> str:
        intent.error = reason[:1000]
        log.warning("outbox intent %s (%s) escalated: %s", intent.id, intent.action, reason)
        if intent.action == "book":
            intent.status = "review"  # fenced first: then no other worker can claim it
            if not await asyncio.to_thread(self._save, intent):
                return "lease_lost"
            await asyncio.to_thread(
                create_review_item, self.engine, intent=intent, call_id=intent.call_id,
                business=intent.business, reason=f"not booked automatically: {reason}"[:500],
                confidence={"source": "reconciler", "attempts": intent.attempts},
            )
            return "review"
        intent.status = "escalated"
        return "escalated" if await asyncio.to_thread(self._save, intent) else "lease_lost"


def _aware(value: str, business: Business) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=business.tz)
