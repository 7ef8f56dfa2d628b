"""A connector wrapper that injects failures and latency, for unit tests (never a default).

``FaultyConnector(inner, fail_times=2, fake_exception=ConnectorTimeoutError())`` fails the
first two calls of the chosen operations, then delegates to ``inner``; ``fake_latency`` delays
every call; ``hang=True`` never answers (for timeout tests); ``after_success_exception`` makes
a call *reach* the inner connector and then fail, like a CRM that booked but whose answer was
lost on the way back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any

from connectors.base import Booking, Connector, ConnectorError, Slot

__all__ = ["FaultyConnector"]

ALL_OPS = ("list_free_slots", "book", "cancel", "reschedule", "find_bookings", "health_check")


class FaultyConnector:
    def __init__(
        self,
        inner: Connector,
        *,
        fail_times: int = 0,
        fake_exception: BaseException | None = None,
        fake_latency: float = 0.0,
        hang: bool = False,
        after_success_exception: ConnectorError | None = None,
        ops: Iterable[str] = ALL_OPS,
    ) -> None:
        self.inner = inner
        self.capabilities = inner.capabilities
        self.fail_times = fail_times
        self.fake_exception = fake_exception or ConnectorError("injected failure", retryable=True)
        self.fake_latency = fake_latency
        self.hang = hang
        self.after_success_exception = after_success_exception
        self.ops = frozenset(ops)
        self.calls: list[str] = []

    async def _run(self, op: str, call: Callable[[], Awaitable[Any]]) -> Any:
        self.calls.append(op)
        if self.fake_latency:
            await asyncio.sleep(self.fake_latency)
        if op in self.ops:
            if self.hang:
                await asyncio.Event().wait()
            if self.fail_times > 0:
                self.fail_times -= 1
                raise self.fake_exception
        result = await call()
        if op in self.ops and self.after_success_exception is not None:
            error, self.after_success_exception = self.after_success_exception, None
            raise error
        return result

    async def list_free_slots(self, *, service: str, start: datetime, end: datetime,
                              staff: str | None = None) -> list[Slot]:
        return await self._run("list_free_slots", lambda: self.inner.list_free_slots(
            service=service, start=start, end=end, staff=staff))

    async def book(self, **kw: Any) -> Booking:
        return await self._run("book", lambda: self.inner.book(**kw))

    async def cancel(self, booking_id: str) -> Booking:
        return await self._run("cancel", lambda: self.inner.cancel(booking_id))

    async def reschedule(self, booking_id: str, new_start: datetime) -> Booking:
        return await self._run("reschedule", lambda: self.inner.reschedule(booking_id, new_start))

    async def find_bookings(self, *, phone: str | None = None, name: str | None = None
                            ) -> list[Booking]:
        return await self._run(
            "find_bookings", lambda: self.inner.find_bookings(phone=phone, name=name)
        )

    async def health_check(self) -> None:
        return await self._run("health_check", lambda: self.inner.health_check())

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
