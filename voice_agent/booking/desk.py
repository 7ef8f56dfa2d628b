"""Carry out what the booking policy decided: intent first, connector second, outcome last.

Every booking, move and cancellation is recorded in the outbox *before* the connector is
called, with the idempotency key the connector receives; a connector failure leaves the
intent ``pending`` for the reconciler instead of losing it. A booking whose confidence is
below the review threshold is routed to the human review queue and never reaches the
calendar. The desk knows nothing of what is said to the caller: it returns what happened,
and the dialog decides the words.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from connectors.base import Booking, Capability, Connector, ConnectorError, SlotUnavailableError
from connectors.schedule import Business
from voice_agent.booking.outbox import Outbox
from voice_agent.logging_utils import mask_text
from voice_agent.store.models import BookingIntent
from voice_agent.store.review import create_review_item

__all__ = ["BookingDesk", "DeskResult"]

log = logging.getLogger(__name__)

Status = Literal["done", "taken", "pending", "review", "unsupported"]


@dataclass(frozen=True)
class DeskResult:
    """What became of one operation.

    ``done``: the connector did it (``booking`` is the result); ``taken``: the slot went
    meanwhile (nothing written); ``pending``: the connector failed, the intent waits for the
    reconciler; ``review``: held for a human (low confidence); ``unsupported``: the
    connector cannot do this, the intent is escalated to a human.
    """

    status: Status
    booking: Booking | None = None
    error: str | None = None
    review_reason: str | None = None


class BookingDesk:
    def __init__(self, *, business: Business, connector: Connector, outbox: Outbox | None,
                 call_id: str | None, review_threshold: float) -> None:
        self.business = business
        self.connector = connector
        self.outbox = outbox
        self.call_id = call_id
        self.review_threshold = review_threshold
        self._names_on_file: list[str] | None = None  # the caller's record, once looked up

    async def book(self, *, service: str, start: datetime, name: str, phone: str,
                   staff: str | None, confidence: dict[str, Any]) -> DeskResult:
        """``confidence`` is the booking's confidence record (``score`` and
        ``explicit_confirmation``); below the threshold the booking goes to review."""
        payload = {"service": service, "start": start.isoformat(), "name": name, "phone": phone}
        intent = await self._intent("book", payload)
        if intent is not None and not phone.strip():
            # No caller ID and no number given: the calendar cannot take it, a human can.
            return await self._to_review(intent, confidence | {
                "reason": confidence.get("reason") or "no number to reach the caller"})
        if intent is not None and confidence["score"] < self.review_threshold:
            return await self._to_review(intent, confidence)
        key = intent.idempotency_key if intent else f"va-{self.call_id}-{start:%Y-%m-%dT%H:%M}"
        return await self._write(intent, lambda: self.connector.book(
            service=service, start=start, name=name, phone=phone, staff=staff,
            idempotency_key=key))

    async def move(self, booking: Booking, new_start: datetime) -> DeskResult:
        payload = {"booking_id": booking.id, "new_start": new_start.isoformat()}
        intent = await self._intent("reschedule", payload)
        if Capability.RESCHEDULE not in self.connector.capabilities:
            return await self._unsupported(intent, "reschedule")
        return await self._write(intent, lambda: self.connector.reschedule(booking.id,
                                                                           new_start))

    async def _write(self, intent: BookingIntent | None,
                     operation: Callable[[], Awaitable[Booking]]) -> DeskResult:
        """Call the connector and finish the intent by what happened."""
        try:
            booking = await operation()
        except SlotUnavailableError as exc:
            await self._finish(intent, "failed", error=str(exc))
            return DeskResult("taken", error=str(exc))
        except ConnectorError as exc:
            await self._finish(intent, "pending", error=str(exc))  # for the reconciler
            return DeskResult("pending", error=str(exc))
        await self._finish(intent, "done", booking_id=booking.id)
        await self._confirm("booked" if intent is None or intent.action == "book"
                            else "rescheduled", booking)
        return DeskResult("done", booking=booking)

    async def _confirm(self, kind: str, booking: Booking) -> None:
        """Text the caller what was done, when texts are configured (the reply said so)."""
        confirmations = getattr(self.outbox, "confirmations", None)
        if confirmations is not None:
            await confirmations.send(kind, self.business, booking, call_id=self.call_id)

    async def cancel(self, booking: Booking) -> DeskResult:
        intent = await self._intent("cancel", {"booking_id": booking.id})
        if Capability.CANCEL not in self.connector.capabilities:
            return await self._unsupported(intent, "cancel")
        try:
            await self.connector.cancel(booking.id)
        except ConnectorError as exc:
            # The intent stays pending for the reconciler.
            await self._finish(intent, "pending", error=str(exc))
            return DeskResult("pending", error=str(exc))
        await self._finish(intent, "done", booking_id=booking.id)
        await self._confirm("cancelled", booking)
        return DeskResult("done", booking=booking)

    async def names_on_file(self, phone: str | None) -> list[str]:
        """The names on the bookings held for ``phone`` (the caller's record), fetched once
        per call; nothing when there is no number or the calendar cannot say: a lookup
        that fails only means the name is spelled as usual."""
        if self._names_on_file is None:
            self._names_on_file = []
            if phone:
                try:
                    found = await self.connector.find_bookings(phone=phone)
                except (ConnectorError, ValueError) as exc:
                    log.info("names on file not looked up: %s", exc)
                else:
                    self._names_on_file = list(dict.fromkeys(b.name for b in found if b.name))
        return self._names_on_file

    async def callback(self, why: str, detail: str, *, wanted: dict[str, Any],
                       status: str = "callback") -> None:
        """Persist what the caller wanted when the call cannot finish it: ``callback`` (a
        human calls back) or ``abandoned`` (the caller left mid-request; kept for QA)."""
        if self.outbox is None:
            return
        await self.outbox.record(
            business=self.business.name, call_id=self.call_id, action="callback",
            status=status, payload={"why": why, "detail": detail[:300], **wanted},
        )
        log.warning("callback intent recorded: %s (caller %s)", why,
                    mask_text(str(wanted.get("phone") or "")))

    # -- outbox -------------------------------------------------------------------------
    async def _intent(self, action: str, payload: dict[str, Any]) -> BookingIntent | None:
        if self.outbox is None:
            return None
        return await self.outbox.record(business=self.business.name, call_id=self.call_id,
                                        action=action, payload=payload)

    async def _finish(self, intent: BookingIntent | None, status: str, **fields: Any) -> None:
        if intent is not None and self.outbox is not None:
            await self.outbox.finish(intent, status=status, **fields)

    async def _unsupported(self, intent: BookingIntent | None, operation: str) -> DeskResult:
        """The business's connector cannot do this (declared capabilities): a human will."""
        reason = f"the calendar connector cannot {operation}"
        await self._finish(intent, "escalated", error=reason)
        return DeskResult("unsupported", error=reason)

    async def _to_review(self, intent: BookingIntent, confidence: dict[str, Any]) -> DeskResult:
        """Not sure enough: a human confirms before anything reaches the calendar."""
        assert self.outbox is not None
        reason = confidence.get("reason") or (
            "low confidence" if confidence["explicit_confirmation"] else "no explicit yes")
        await asyncio.to_thread(
            create_review_item, self.outbox.engine, intent=intent, call_id=self.call_id,
            business=self.business.name, reason=reason, confidence=confidence,
        )
        return DeskResult("review", review_reason=reason)
