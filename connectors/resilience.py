"""Timeouts, retries and circuit breaking for every connector, in one place.

:class:`ResilientConnector` wraps any :class:`~connectors.base.Connector` and implements the
same protocol. Each operation gets a per-attempt timeout; only errors marked ``retryable``
(timeouts, connection failures, 408/429/5xx) are retried, with exponential backoff and jitter,
honouring a provider's ``Retry-After`` when it is short enough to wait for on a live call;
anything the connector raises that is not a :class:`ConnectorError` is translated into one, so
a buggy or surprising provider never crashes a call. Writes are safe to retry because every
connector call carries an idempotency key (book) or is idempotent by nature (cancel, a
reschedule to the same start).

A :class:`CircuitBreaker` per connector stops hammering a provider that keeps failing: after
``breaker_failures`` consecutive provider failures it opens, refuses calls at once with
:class:`CircuitOpenError` for ``breaker_reset_s``, then lets one trial call through.
Caller mistakes (slot taken, unknown booking) are answers, not failures, and don't count.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from prometheus_client import Counter, Histogram

from connectors.base import (
    Booking,
    BookingNotFoundError,
    CircuitOpenError,
    Connector,
    ConnectorError,
    ConnectorTimeoutError,
    InvalidRequestError,
    Slot,
    SlotUnavailableError,
)

__all__ = ["CircuitBreaker", "ConnectOptions", "ResilientConnector"]

log = logging.getLogger(__name__)
T = TypeVar("T")

# Answers about the caller's request, not signs of an unhealthy provider.
_ANSWERS = (SlotUnavailableError, BookingNotFoundError, InvalidRequestError)

CONNECTOR_CALLS = Counter(
    "voice_agent_connector_calls_total",
    "Connector operations by outcome (ok, answer, error, timeout, circuit_open)",
    ["kind", "op", "outcome"],
)
CONNECTOR_SECONDS = Histogram(
    "voice_agent_connector_seconds",
    "Connector operation time including retries",
    ["kind", "op"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16),
)


@dataclass(frozen=True, slots=True)
class ConnectOptions:
    """How patient to be with a provider. The defaults suit a live call (the caller is
    waiting); the outbox reconciler uses :meth:`patient`."""

    timeout: float = 5.0  # seconds per attempt
    max_retry: int = 2  # retries after the first attempt, retryable errors only
    retry_interval: float = 0.25  # first backoff; doubles each retry, with jitter
    max_backoff: float = 2.0  # never sleep longer than this in-line (else give up now)
    breaker_failures: int = 5  # consecutive provider failures that open the circuit
    breaker_reset_s: float = 30.0  # how long an open circuit refuses calls

    @classmethod
    def patient(cls) -> ConnectOptions:
        return cls(timeout=15.0, max_retry=4, retry_interval=1.0, max_backoff=30.0)


class CircuitBreaker:
    """Closed → open after N consecutive failures → half-open after the reset time (one trial
    call; success closes, failure re-opens)."""

    def __init__(
        self,
        *,
        failures: int,
        reset_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = failures
        self.reset_s = reset_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.reset_s:
            return "half_open"
        return "open"

    def before_call(self, name: str) -> None:
        state = self.state
        if state == "closed":
            return
        if state == "half_open" and not self._trial_running:
            self._trial_running = True
            return
        assert self._opened_at is not None
        wait = max(0.0, self.reset_s - (self._clock() - self._opened_at))
        raise CircuitOpenError(
            f"{name} is failing; calls paused for {wait:.0f} s", retry_after=wait
        )

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_running = False

    def record_failure(self) -> None:
        self._failures += 1
        if self._trial_running or self._failures >= self.threshold:
            self._opened_at = self._clock()
        self._trial_running = False

    def record_answer(self) -> None:
        """The provider answered (even if "no"): it is healthy."""
        self.record_success()


class ResilientConnector:
    """Same protocol as the wrapped connector, with timeouts, retries and a breaker."""

    def __init__(
        self,
        inner: Connector,
        *,
        kind: str,
        options: ConnectOptions | None = None,
        breaker: CircuitBreaker | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.inner = inner
        self.kind = kind
        self.options = options or ConnectOptions()
        self.breaker = breaker or CircuitBreaker(
            failures=self.options.breaker_failures, reset_s=self.options.breaker_reset_s
        )
        self.capabilities = inner.capabilities
        self._sleep = sleep

    # -- protocol ----------------------------------------------------------------------------

    async def list_free_slots(self, *, service: str, start: datetime, end: datetime,
                              staff: str | None = None) -> list[Slot]:
        return await self._call(
            "list_free_slots", self.inner.list_free_slots, service=service, start=start, end=end,
            staff=staff,
        )

    async def book(
        self,
        *,
        service: str,
        start: datetime,
        name: str,
        phone: str,
        staff: str | None = None,
        idempotency_key: str,
    ) -> Booking:
        return await self._call(
            "book", self.inner.book, service=service, start=start, name=name, phone=phone,
            staff=staff, idempotency_key=idempotency_key,
        )

    async def cancel(self, booking_id: str) -> Booking:
        return await self._call("cancel", self.inner.cancel, booking_id)

    async def reschedule(self, booking_id: str, new_start: datetime) -> Booking:
        return await self._call("reschedule", self.inner.reschedule, booking_id, new_start)

    async def find_bookings(
        self, *, phone: str | None = None, name: str | None = None
    ) -> list[Booking]:
        return await self._call("find_bookings", self.inner.find_bookings, phone=phone, name=name)

    async def health_check(self) -> None:
        await self._call("health_check", self.inner.health_check)

    def __getattr__(self, name: str) -> Any:
        """Connector-specific extras (``list_bookings``, ``seed``) pass straight through."""
        return getattr(self.inner, name)

    # -- the one retry loop -------------------------------------------------------------------

    async def _call(self, op: str, fn: Callable[..., Awaitable[T]], *args: Any, **kw: Any) -> T:
        opts = self.options
        started = time.monotonic()
        try:
            for attempt in range(opts.max_retry + 1):
                try:
                    self.breaker.before_call(self.kind)
                except CircuitOpenError:
                    CONNECTOR_CALLS.labels(self.kind, op, "circuit_open").inc()
                    raise
                try:
                    result = await asyncio.wait_for(fn(*args, **kw), opts.timeout)
                except _ANSWERS:
                    self.breaker.record_answer()
                    CONNECTOR_CALLS.labels(self.kind, op, "answer").inc()
                    raise
                except Exception as exc:
                    error = self._translate(op, exc)
                    self.breaker.record_failure()
                    outcome = "timeout" if isinstance(error, ConnectorTimeoutError) else "error"
                    CONNECTOR_CALLS.labels(self.kind, op, outcome).inc()
                    delay = self._backoff(attempt, error)
                    if delay is None:
                        raise error from None
                    log.warning("%s %s failed (%s); retry %d in %.2f s", self.kind, op,
                                error.message, attempt + 1, delay)
                    await self._sleep(delay)
                    continue
                self.breaker.record_success()
                CONNECTOR_CALLS.labels(self.kind, op, "ok").inc()
                return result
            raise AssertionError("unreachable")  # pragma: no cover
        finally:
            CONNECTOR_SECONDS.labels(self.kind, op).observe(time.monotonic() - started)

    def _translate(self, op: str, exc: BaseException) -> ConnectorError:
        if isinstance(exc, ConnectorError):
            return exc
        if isinstance(exc, TimeoutError):
            return ConnectorTimeoutError(
                f"{self.kind} {op} timed out after {self.options.timeout:g} s"
            )
        log.error("%s %s raised %s (a connector bug: translated, not retried)", self.kind, op,
                  type(exc).__name__, exc_info=exc)
        return ConnectorError(f"{self.kind} {op} failed unexpectedly ({type(exc).__name__})")

    def _backoff(self, attempt: int, error: ConnectorError) -> float | None:
        """Seconds to wait before the next attempt, or None to give up now."""
        opts = self.options
        if not error.retryable or attempt >= opts.max_retry or self.breaker.state == "open":
            return None
        if error.retry_after is not None:
            return error.retry_after if error.retry_after <= opts.max_backoff else None
        base = opts.retry_interval * (2**attempt)
        return min(opts.max_backoff, base * random.uniform(0.5, 1.0))
