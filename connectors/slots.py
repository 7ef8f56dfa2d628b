"""Turning a provider's busy time (or its free starts) into :class:`Slot`s the business allows.

Opening hours, services, durations and the slot grid always come from the business definition
(``connectors.schedule``), never from the provider, so a remote calendar can narrow what the
agent offers but can never widen it. Every remote connector goes through these helpers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

from connectors.base import InvalidRequestError, Slot, SlotUnavailableError
from connectors.schedule import Business, Service

__all__ = [
    "Interval",
    "candidate_starts_between",
    "check_bookable",
    "free_slots_from_busy",
    "free_slots_from_starts",
    "require_service",
    "resolve_staff",
]

Interval = tuple[datetime, datetime]


def require_service(business: Business, service_id: str) -> Service:
    try:
        return business.service(service_id)
    except KeyError:
        message = f"{business.display_name} has no service {service_id!r}"
        raise InvalidRequestError(message) from None


def resolve_staff(business: Business, staff: str | None) -> list[str]:
    """Candidate staff members for a booking: the one asked for, or everyone in order."""
    members = business.staff_members
    if staff is None:
        return members
    wanted = " ".join(staff.split()).casefold()
    for member in members:
        if member.casefold() == wanted:
            return [member]
    raise InvalidRequestError(f"{business.display_name} has no staff member {staff!r}")


def check_bookable(business: Business, service_id: str, start: datetime) -> Service:
    """The service, after checking ``start`` against opening hours and the grid."""
    if start.tzinfo is None:
        raise ValueError("datetimes passed to a connector must be timezone-aware")
    svc = require_service(business, service_id)
    problem = business.hours_violation(svc.id, start)
    if problem is not None:
        raise SlotUnavailableError(problem)
    return svc


def candidate_starts_between(
    business: Business, service_id: str, start: datetime, end: datetime
) -> list[datetime]:
    """Every grid start in ``[start, end)`` where the whole service fits in opening hours."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("datetimes passed to a connector must be timezone-aware")
    svc = require_service(business, service_id)
    tz = business.tz
    day, last = start.astimezone(tz).date(), end.astimezone(tz).date()
    starts: list[datetime] = []
    while day <= last:
        starts += [s for s in business.candidate_starts(svc.id, day) if start <= s < end]
        day += timedelta(days=1)
    return starts


def _overlaps(begin: datetime, end: datetime, busy: Sequence[Interval]) -> bool:
    return any(b_start < end and begin < b_end for b_start, b_end in busy)


def free_slots_from_busy(
    business: Business,
    service_id: str,
    start: datetime,
    end: datetime,
    busy_by_staff: Mapping[str, Sequence[Interval]],
    staff: str | None = None,
) -> list[Slot]:
    """One slot per candidate start where some staff member's busy list leaves the whole
    service free; ``staff`` is the first such member (the business's order), or only the
    member named by ``staff``."""
    svc = require_service(business, service_id)
    members = resolve_staff(business, staff)
    slots: list[Slot] = []
    for slot_start in candidate_starts_between(business, service_id, start, end):
        begin = slot_start.astimezone(UTC)
        finish = begin + svc.duration
        for member in members:
            if not _overlaps(begin, finish, busy_by_staff.get(member, ())):
                slots.append(Slot(
                    start=slot_start,
                    end=finish.astimezone(business.tz),
                    staff=member if business.staff else None,
                ))
                break
    return slots


def free_slots_from_starts(
    business: Business,
    service_id: str,
    start: datetime,
    end: datetime,
    offered: Iterable[tuple[datetime, str | None]],
    staff: str | None = None,
) -> list[Slot]:
    """Provider-offered free starts (with an optional staff name) kept only where they are
    also candidate starts of the business; duplicates collapse to the first staff offered.
    With ``staff``, only starts the provider offers for that member (an offer that names
    nobody is not evidence that the member is free)."""
    svc = require_service(business, service_id)
    wanted = set(resolve_staff(business, staff)) if staff is not None else None
    allowed = {s.astimezone(UTC): s for s in candidate_starts_between(business, service_id,
                                                                        start, end)}
    chosen: dict[datetime, str | None] = {}
    for when, staff_of in offered:
        if when.tzinfo is None:
            continue  # a provider start without an offset is ambiguous: never offer it
        key = when.astimezone(UTC)
        if wanted is not None and (staff_of is None or staff_of not in wanted):
            continue
        if key in allowed and key not in chosen:
            chosen[key] = staff_of if business.staff else None
    return [
        Slot(start=allowed[key], end=(key + svc.duration).astimezone(business.tz),
             staff=chosen[key])
        for key in sorted(chosen)
    ]
