"""The booking outbox: intent first, connector second, outcome last.

A booking intent is committed to our database *before* the connector is called, carrying
the idempotency key the connector receives, so a crash, timeout or CRM outage never loses
what the caller asked for: the row stays ``pending`` (or ``callback``) for a reconciler or a
human to finish.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from voice_agent.store.models import BookingIntent, new_id, utcnow


class Outbox:
    def __init__(self, engine: Engine, *, confirmations: Any = None) -> None:
        self.engine = engine
        # Confirmations (booking/confirmations.py) when texts are configured: what the desk
        # finishes is confirmed to the caller by text, itself through this outbox.
        self.confirmations = confirmations

    async def record(
        self, *, business: str, call_id: str | None, action: str, payload: dict[str, Any],
        status: str = "pending",
    ) -> BookingIntent:
        intent = BookingIntent(
            idempotency_key=f"va-{new_id()}", business=business, call_id=call_id,
            action=action, payload=payload, status=status,
        )
        return await asyncio.to_thread(self._save, intent)

    async def finish(
        self, intent: BookingIntent, *, status: str, booking_id: str | None = None,
        error: str | None = None,
    ) -> BookingIntent:
        intent.status = status
        intent.booking_id = booking_id
        intent.error = error
        intent.attempts += 1
        intent.updated_at = utcnow()
        return await asyncio.to_thread(self._save, intent)

    def _save(self, intent: BookingIntent) -> BookingIntent:
        with Session(self.engine, expire_on_commit=False) as session:
            merged = session.merge(intent)
            session.commit()
            return merged
