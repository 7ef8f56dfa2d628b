"""Confirmations by text message: what the caller was told they would receive, sent.

When a booking, a move or a cancellation is done (during the call, by the reconciler after
a connector outage, or by a reviewer approving a held booking), a text is written to the
outbox as an ``sms`` intent *before* it is sent, so a Twilio failure or a crash never loses
it: delivery is tried at once in the background, and the reconciler retries what is left
``pending`` (or whose lease expired) like any other intent. The words come from the reply
templates (``sms_booked``, ``sms_rescheduled``, ``sms_cancelled``), next to the spoken
replies that promise them (``booked@sms`` ...), so the promise and the text change together.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, Literal

from sqlalchemy import Engine

from connectors.base import Booking
from connectors.schedule import Business
from voice_agent.booking.outbox import Outbox
from voice_agent.booking.sms import TwilioSms
from voice_agent.logging_utils import mask_phone

__all__ = ["Confirmations", "Kind"]

log = logging.getLogger(__name__)
Kind = Literal["booked", "rescheduled", "cancelled"]
DRAIN_TIMEOUT_S = 15.0


class Confirmations:
    def __init__(self, *, engine: Engine, sms: TwilioSms, texts: Mapping[str, str],
                 businesses: Mapping[str, Business]) -> None:
        self.engine = engine
        self.sms = sms
        self.texts = texts
        self.businesses = businesses
        self._tasks: set[asyncio.Task[None]] = set()

    def body(self, kind: Kind, business: Business, booking: Booking) -> str:
        local = booking.start.astimezone(business.tz)
        hour = local.strftime("%I:%M %p").lstrip("0").replace(":00 ", " ")
        return self.texts[f"sms_{kind}"].format(
            business=business.display_name, service=business.service(booking.service).name,
            day=f"{local:%A} {local.day} {local:%B}", time=hour, name=booking.name)

    async def send(self, kind: Kind, business: Business, booking: Booking, *,
                   call_id: str | None) -> None:
        """Record the text in the outbox, then try to deliver it now (in the background)."""
        to = booking.phone.strip()
        if not to:
            log.warning("no number to text the %s confirmation to (booking %s)", kind,
                        booking.id)
            return
        intent = await Outbox(self.engine).record(
            business=business.name, call_id=call_id, action="sms",
            payload={"kind": kind, "to": to, "body": self.body(kind, business, booking),
                     "booking_id": booking.id})
        log.info("%s confirmation for %s queued (intent %s)", kind, mask_phone(to), intent.id)
        task = asyncio.create_task(self._deliver(intent.id), name=f"sms-{intent.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, intent_id: str) -> None:
        from voice_agent.booking.reconciler import OutboxReconciler  # it sends ours too

        reconciler = OutboxReconciler(self.engine, self.businesses, _no_connector,
                                      grace_s=0, sms=self.sms)
        try:
            await reconciler.run_one(intent_id)
        except Exception:  # the intent stays in the outbox for the reconciler
            log.exception("delivering text intent %s failed", intent_id)

    async def drain(self, timeout_s: float = DRAIN_TIMEOUT_S) -> None:
        """Wait for deliveries in flight (shutdown, tests); what is left stays queued."""
        tasks = list(self._tasks)
        if tasks:
            await asyncio.wait(tasks, timeout=timeout_s)

    async def aclose(self) -> None:
        await self.drain()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.sms.aclose()


def _no_connector(business: Business) -> Any:  # never called for a text intent
    raise AssertionError("a text intent needs no calendar connector")
