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

Several workers may run it at once: each intent is claimed with a conditional UPDATE
(``pending`` → ``reconciling``) so exactly one worker handles it. An intent is only touched
once it has been pending for ``grace_s`` (the call that wrote it may still be finishing it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from connectors.base import (
    BookingNotFoundError,
    Connector,
    ConnectorError,
    InvalidRequestError,
    SlotUnavailableError,
)
from connectors.schedule import Business
from voice_agent.store.models import BookingIntent, utcnow
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
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.businesses = businesses
        self.connector_for = connector_for
        self.grace = timedelta(seconds=grace_s)
        self.max_attempts = max_attempts
        self.clock = clock

    async def run_once(self) -> ReconcileReport:
        report = ReconcileReport()
        for intent in await asyncio.to_thread(self._claim_due):
            report.examined += 1
            outcome = await self._reconcile(intent)
            report.outcomes.append({"intent": intent.id, "action": intent.action,
                                    "status": intent.status, "outcome": outcome})
            if outcome == "done":
                report.done += 1
            elif outcome == "retry_later":
                report.retry_later += 1
            else:
                report.escalated += 1
        if report.examined:
            log.info("outbox reconciled %d intents: %d done, %d escalated, %d retry later",
                     report.examined, report.done, report.escalated, report.retry_later)
        return report

    async def run_forever(self, interval_s: float) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("outbox reconciliation round failed")
            await asyncio.sleep(interval_s)

    # -- claiming ----------------------------------------------------------------------------

    def _claim_due(self) -> list[BookingIntent]:
        cutoff = self.clock() - self.grace
        with Session(self.engine, expire_on_commit=False) as session:
            due = list(session.exec(
                select(BookingIntent)
                .where(col(BookingIntent.status) == "pending",
                       col(BookingIntent.updated_at) <= cutoff)
                .order_by(col(BookingIntent.created_at)).limit(BATCH)
            ))
            claimed: list[BookingIntent] = []
            for intent in due:
                result = session.exec(  # type: ignore[call-overload]
                    update(BookingIntent)
                    .where(col(BookingIntent.id) == intent.id,
                           col(BookingIntent.status) == "pending")
                    .values(status="reconciling", updated_at=self.clock())
                )
                session.commit()
                if result.rowcount == 1:
                    intent.status = "reconciling"
                    claimed.append(intent)
            return claimed

    def _save(self, intent: BookingIntent) -> None:
        intent.updated_at = self.clock()
        with Session(self.engine) as session:
            session.merge(intent)
            session.commit()

    # -- one intent --------------------------------------------------------------------------

    async def _reconcile(self, intent: BookingIntent) -> str:
        business = self.businesses.get(intent.business)
        if business is None:
            return await self._escalate(intent, f"business {intent.business!r} is not configured")
        connector = self.connector_for(business)
        intent.attempts += 1
        try:
            booking_id = await self._repeat(intent, business, connector)
        except (SlotUnavailableError, InvalidRequestError) as exc:
            return await self._escalate(intent, exc.message)
        except BookingNotFoundError as exc:
            if intent.action == "cancel":  # already gone: what was asked for is true
                return await self._finish(intent, "done", intent.payload.get("booking_id"))
            return await self._escalate(intent, exc.message)
        except (ConnectorError, KeyError, ValueError, TypeError) as exc:
            message = exc.message if isinstance(exc, ConnectorError) else (
                f"unreadable intent payload ({type(exc).__name__})")
            if intent.attempts >= self.max_attempts or not isinstance(exc, ConnectorError):
                return await self._escalate(intent, f"gave up after {intent.attempts} attempts: "
                                                    f"{message}")
            intent.status, intent.error = "pending", message
            await asyncio.to_thread(self._save, intent)
            return "retry_later"
        return await self._finish(intent, "done", booking_id)

    async def _repeat(self, intent: BookingIntent, business: Business, connector: Connector
                      ) -> str:
        p = intent.payload
        if intent.action == "book":
            start = _aware(p["start"], business)
            booking = await connector.book(
                service=p["service"], start=start, name=p["name"], phone=p["phone"],
                staff=p.get("staff"), idempotency_key=intent.idempotency_key,
            )
            return booking.id
        if intent.action == "cancel":
            return (await connector.cancel(p["booking_id"])).id
        if intent.action == "reschedule":
            moved = await connector.reschedule(p["booking_id"], _aware(p["new_start"], business))
            return moved.id
        raise ValueError(f"unknown intent action {intent.action!r}")

    async def _finish(self, intent: BookingIntent, status: str, booking_id: str | None) -> str:
        intent.status, intent.booking_id, intent.error = status, booking_id, None
        await asyncio.to_thread(self._save, intent)
        log.info("outbox intent %s (%s) completed by the reconciler", intent.id, intent.action)
        return status

    async def _escalate(self, intent: BookingIntent, reason: str) -> str:
        intent.error = reason[:1000]
        log.warning("outbox intent %s (%s) escalated: %s", intent.id, intent.action, reason)
        if intent.action == "book":
            await asyncio.to_thread(
                create_review_item, self.engine, intent=intent, call_id=intent.call_id,
                business=intent.business, reason=f"not booked automatically: {reason}"[:500],
                confidence={"source": "reconciler", "attempts": intent.attempts},
            )
            return "review"
        intent.status = "escalated"
        await asyncio.to_thread(self._save, intent)
        return "escalated"


def _aware(value: str, business: Business) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=business.tz)
