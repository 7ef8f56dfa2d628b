"""The contract every calendar / CRM connector implements.

A connector instance is bound to one :class:`~connectors.schedule.Business` (constructor
argument). All datetimes going in must be timezone-aware; all datetimes coming out are aware and
expressed in the business timezone. Provider errors are translated at the boundary into the
:class:`ConnectorError` hierarchy below.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

__all__ = [
    "Booking",
    "BookingNotFoundError",
    "Capability",
    "CircuitOpenError",
    "Connector",
    "ConnectorError",
    "ConnectorStatusError",
    "ConnectorTimeoutError",
    "InvalidRequestError",
    "MalformedResponseError",
    "Slot",
    "SlotUnavailableError",
    "clean_name",
    "clean_phone",
]

def clean_phone(phone: str) -> str:
    """A phone number as every connector stores and compares it: no spaces, dashes, dots or
    brackets ("+1 (555) 123-0001" -> "+15551230001")."""
    return re.sub(r"[\s\-().]", "", phone)


def clean_name(name: str) -> str:
    """A caller's name with runs of whitespace collapsed."""
    return " ".join(name.split())


BOOKED = "booked"
CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Slot:
    start: datetime
    end: datetime
    staff: str | None


@dataclass(frozen=True, slots=True)
class Booking:
    id: str
    business: str
    service: str
    start: datetime
    end: datetime
    name: str
    phone: str
    staff: str | None
    status: str  # "booked" | "cancelled"

    @property
    def active(self) -> bool:
        return self.status == BOOKED


class ConnectorError(Exception):
    """Base of every error a connector raises; ``retryable`` says whether retrying may help."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.retry_after: float | None = None  # seconds the provider asked us to wait


class ConnectorTimeoutError(ConnectorError):
    def __init__(self, message: str = "calendar request timed out") -> None:
        super().__init__(message, retryable=True)


class ConnectorStatusError(ConnectorError):
    """The provider answered with an error status; retryable only for 408, 429 and 5xx."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: object | None = None,
        retry_after: float | None = None,
    ) -> None:
        retryable = status_code in (408, 429) or status_code >= 500
        super().__init__(message, retryable=retryable)
        self.status_code = status_code
        self.body = body
        self.retry_after = retry_after


class MalformedResponseError(ConnectorError):
    """The provider answered 2xx with something we cannot read (HTML, truncated JSON, a
    missing field). Not retried in-line: for a write the outcome is unknown, so the booking
    outbox keeps the intent pending and the reconciler repeats it with the same idempotency
    key."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class CircuitOpenError(ConnectorError):
    """Too many recent failures: calls are refused for a while without reaching the provider."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message, retryable=True)
        self.retry_after = retry_after


class SlotUnavailableError(ConnectorError):
    """The slot is taken or not bookable (outside opening hours, off-grid); the message says
    why and is safe to say to the caller."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class BookingNotFoundError(ConnectorError):
    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class InvalidRequestError(ConnectorError):
    """The request names something the business doesn't have (unknown service or staff)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class Capability(enum.Enum):
    LIST_SLOTS = "list_slots"
    BOOK = "book"
    CANCEL = "cancel"
    RESCHEDULE = "reschedule"
    FIND_BOOKINGS = "find_bookings"


@runtime_checkable
class Connector(Protocol):
    capabilities: frozenset[Capability]

    async def list_free_slots(self, *, service: str, start: datetime, end: datetime,
                              staff: str | None = None) -> list[Slot]:
        """One Slot per free start time in ``[start, end)``; ``staff`` is the first free member,
        or, when ``staff`` names a member, only the starts where that member is free."""
        ...

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
        """Book; the same ``idempotency_key`` again returns the same booking, never a second."""
        ...

    async def cancel(self, booking_id: str) -> Booking: ...

    async def reschedule(self, booking_id: str, new_start: datetime) -> Booking: ...

    async def find_bookings(
        self, *, phone: str | None = None, name: str | None = None
    ) -> list[Booking]:
        """Active bookings matching every given criterion."""
        ...

    async def health_check(self) -> None:
        """Return when healthy; raise :class:`ConnectorError` otherwise."""
        ...
