"""BuiltinCalendar: the embedded default connector, stored in SQLite or PostgreSQL.

Occupancy is enforced by the database: every active appointment owns one ``cal_staff_cell`` row
per time cell it covers, and (business, staff, cell_start_utc) is UNIQUE, so two overlapping
bookings for one staff member can never both commit, however many processes write at once.
Datetimes are stored as naive UTC and returned aware in the business timezone.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Engine, delete, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session
from sqlmodel import col

from connectors.base import (
    BOOKED,
    CANCELLED,
    Booking,
    BookingNotFoundError,
    Capability,
    ConnectorError,
    ConnectorTimeoutError,
    InvalidRequestError,
    Slot,
    SlotUnavailableError,
    clean_name,
    clean_phone,
)
from connectors.schedule import Business, Service
from connectors.slots import resolve_staff
from connectors.sql import CalAppointment, CalStaffCell, create_calendar_tables, make_engine

__all__ = [
    "BuiltinCalendar",
    "CalAppointment",
    "CalStaffCell",
    "cell_minutes",
    "create_calendar_tables",
    "make_engine",
]

T = TypeVar("T")
_EPOCH = datetime(1970, 1, 1)


def cell_minutes(business: Business) -> int:
    """Occupancy cell size: gcd of the slot grid and every service duration.

    Opening minutes-of-day and the zone's UTC offsets join the gcd so that cells (anchored at
    the UTC epoch) line up with every grid start; for whole-hour zones opening on the grid this
    changes nothing (30 for demo-salon, 15 for demo-dental).
    """
    values = [business.slot_minutes, *(s.minutes for s in business.services)]
    for opens, _ in business.hours.values():
        hours, minutes = opens.split(":")
        values.append(int(hours) * 60 + int(minutes))
    year = datetime.now(UTC).year
    for month in range(1, 13):
        offset = business.tz.utcoffset(datetime(year, month, 1)) or timedelta()
        values.append(int(offset.total_seconds()) // 60)
    return math.gcd(*values)


def _to_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("datetimes passed to a connector must be timezone-aware")
    return value.astimezone(UTC).replace(tzinfo=None)


class BuiltinCalendar:
    """Connector over the ``cal_*`` tables; one instance per business, any number per engine."""

    capabilities: frozenset[Capability] = frozenset(Capability)

    def __init__(self, *, business: Business, engine: Engine) -> None:
        self.business = business
        self._engine = engine
        self._cell = timedelta(minutes=cell_minutes(business))

    # -- Connector protocol ------------------------------------------------------------------

    async def list_free_slots(self, *, service: str, start: datetime, end: datetime,
                              staff: str | None = None) -> list[Slot]:
        return await self._run(self._list_free_slots, service, start, end, staff)

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
        return await self._run(self._book, service, start, name, phone, staff, idempotency_key)

    async def cancel(self, booking_id: str) -> Booking:
        return await self._run(self._cancel, booking_id)

    async def reschedule(self, booking_id: str, new_start: datetime) -> Booking:
        return await self._run(self._reschedule, booking_id, new_start)

    async def find_bookings(
        self, *, phone: str | None = None, name: str | None = None
    ) -> list[Booking]:
        return await self._run(self._find_bookings, phone, name)

    async def list_bookings(self) -> list[Booking]:
        """Every active booking of this business, by start (reports, evals, reconciliation)."""
        return await self._run(self._list_bookings)

    async def health_check(self) -> None:
        await self._run(self._select_one)

    async def seed(self, bookings: Iterable[Mapping[str, Any]]) -> list[Booking]:
        """Insert pre-existing bookings (a call script's ``calendar:`` list).

        Entries are ``{service, start, name, phone, staff?}``; ``start`` may be an ISO string
        and is read in business time when naive. Opening hours and the grid are not checked,
        occupancy is: an overlapping entry raises :class:`SlotUnavailableError`.
        """
        return await self._run(self._seed, list(bookings))

    # -- plumbing ----------------------------------------------------------------------------

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(self._translate_errors, fn, *args)

    @staticmethod
    def _translate_errors(fn: Callable[..., T], *args: Any) -> T:
        try:
            return fn(*args)
        except PoolTimeoutError:
            message = "timed out waiting for a calendar database connection"
            raise ConnectorTimeoutError(message) from None
        except DBAPIError as exc:  # parameters are hidden by make_engine; no PII in messages
            retryable = isinstance(exc, OperationalError | InterfaceError)
            message = f"calendar database error ({type(exc.orig).__name__})"
            raise ConnectorError(message, retryable=retryable) from None

    def _session(self) -> Session:
        return Session(self._engine, expire_on_commit=False)

    def _select_one(self) -> None:
        with self._engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def _service(self, service_id: str) -> Service:
        try:
            return self.business.service(service_id)
        except KeyError:
            raise InvalidRequestError(
                f"{self.business.display_name} has no service {service_id!r}"
            ) from None

    def _staff_candidates(self, staff: str | None) -> list[str]:
        members = self.business.staff_members
        if staff is None:
            return members
        for member in members:
            if member.casefold() == clean_name(staff).casefold():
                return [member]
        raise InvalidRequestError(f"{self.business.display_name} has no staff member {staff!r}")

    def _cells(self, start_utc: datetime, end_utc: datetime) -> list[datetime]:
        first = (start_utc - _EPOCH) // self._cell
        last = -((_EPOCH - end_utc) // self._cell)  # ceiling: an unaligned end touches a cell
        return [_EPOCH + i * self._cell for i in range(first, last)]

    def _aware(self, naive_utc: datetime) -> datetime:
        return naive_utc.replace(tzinfo=UTC).astimezone(self.business.tz)

    def _to_booking(self, row: CalAppointment) -> Booking:
        return Booking(
            id=row.id,
            business=row.business,
            service=row.service,
            start=self._aware(row.start_utc),
            end=self._aware(row.end_utc),
            name=row.name,
            phone=row.phone,
            staff=row.staff if self.business.staff else None,
            status=row.status,
        )

    def _busy_staff(self, cells: list[datetime], *, ignore: str | None = None) -> set[str]:
        stmt = select(CalStaffCell.staff).where(
            col(CalStaffCell.business) == self.business.name,
            col(CalStaffCell.cell_start_utc).in_(cells),
        )
        if ignore is not None:
            stmt = stmt.where(col(CalStaffCell.appointment_id) != ignore)
        with self._session() as session:
            return set(session.scalars(stmt))

    def _get(self, booking_id: str) -> CalAppointment:
        with self._session() as session:
            row = session.get(CalAppointment, booking_id)
        if row is None or row.business != self.business.name:
            raise BookingNotFoundError(f"no booking {booking_id!r}")
        return row

    def _by_key(self, key: str) -> CalAppointment | None:
        stmt = select(CalAppointment).where(
            col(CalAppointment.business) == self.business.name,
            col(CalAppointment.idempotency_key) == key,
        )
        with self._session() as session:
            return session.scalars(stmt).first()

    def _cell_rows(self, staff: str, cells: list[datetime], appt_id: str) -> list[CalStaffCell]:
        return [
            CalStaffCell(
                business=self.business.name,
                staff=staff,
                cell_start_utc=cell,
                appointment_id=appt_id,
            )
            for cell in cells
        ]

    # -- operations (blocking; run in a worker thread) ---------------------------------------

    def _list_free_slots(self, service: str, start: datetime, end: datetime,
                         staff: str | None = None) -> list[Slot]:
        svc = self._service(service)
        members = resolve_staff(self.business, staff)
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("datetimes passed to a connector must be timezone-aware")
        tz = self.business.tz
        day, last_day = start.astimezone(tz).date(), end.astimezone(tz).date()
        starts: list[datetime] = []
        while day <= last_day:
            starts += [s for s in self.business.candidate_starts(svc.id, day) if start <= s < end]
            day += timedelta(days=1)
        if not starts:
            return []
        lo = _EPOCH + (_to_utc(starts[0]) - _EPOCH) // self._cell * self._cell
        hi = _to_utc(starts[-1]) + svc.duration
        stmt = select(CalStaffCell.staff, CalStaffCell.cell_start_utc).where(
            col(CalStaffCell.business) == self.business.name,
            col(CalStaffCell.cell_start_utc) >= lo,
            col(CalStaffCell.cell_start_utc) < hi,
        )
        with self._session() as session:
            occupied = {(staff, cell) for staff, cell in session.execute(stmt)}
        slots: list[Slot] = []
        for slot_start in starts:
            begin = _to_utc(slot_start)
            cells = self._cells(begin, begin + svc.duration)
            for member in members:
                if not any((member, cell) in occupied for cell in cells):
                    slots.append(
                        Slot(
                            start=slot_start,
                            end=self._aware(begin + svc.duration),
                            staff=member if self.business.staff else None,
                        )
                    )
                    break
        return slots

    def _book(
        self, service: str, start: datetime, name: str, phone: str, staff: str | None, key: str
    ) -> Booking:
        existing = self._by_key(key)
        if existing is not None:
            return self._to_booking(existing)
        svc = self._service(service)
        candidates = self._staff_candidates(staff)
        name, phone = clean_name(name), clean_phone(phone)
        if not name or not phone:
            raise InvalidRequestError("a booking needs the caller's name and phone number")
        problem = self.business.hours_violation(svc.id, start)
        if problem is not None:
            raise SlotUnavailableError(problem)
        return self._insert(svc, _to_utc(start), name, phone, candidates, key)

    def _insert(
        self,
        svc: Service,
        start_utc: datetime,
        name: str,
        phone: str,
        candidates: list[str],
        key: str | None,
    ) -> Booking:
        """Insert the appointment and its cells for the first candidate who can take it."""
        end_utc = start_utc + svc.duration
        cells = self._cells(start_utc, end_utc)
        busy = self._busy_staff(cells)
        for member in [m for m in candidates if m not in busy]:
            now = datetime.now(UTC).replace(tzinfo=None)
            row = CalAppointment(
                id=str(uuid.uuid4()),
                business=self.business.name,
                service=svc.id,
                staff=member,
                start_utc=start_utc,
                end_utc=end_utc,
                name=name,
                phone=phone,
                status=BOOKED,
                idempotency_key=key,
                created_at=now,
                updated_at=now,
            )
            with self._session() as session:
                session.add(row)
                try:
                    session.flush()
                except IntegrityError:  # the same idempotency key committed concurrently
                    session.rollback()
                    existing = self._by_key(key) if key is not None else None
                    if existing is None:
                        raise
                    return self._to_booking(existing)
                session.add_all(self._cell_rows(member, cells, row.id))
                try:
                    session.flush()
                except IntegrityError:  # this staff member was booked concurrently
                    session.rollback()
                    continue
                session.commit()
            return self._to_booking(row)
        raise SlotUnavailableError(self._taken_message(svc, start_utc, candidates))

    def _taken_message(self, svc: Service, start_utc: datetime, candidates: list[str]) -> str:
        when = self._aware(start_utc).strftime("%A %d %B at %H:%M")
        if self.business.staff and len(candidates) == 1:
            return f"{candidates[0]} is already booked for a {svc.name} on {when}"
        return f"there is no free slot for a {svc.name} on {when}"

    def _cancel(self, booking_id: str) -> Booking:
        with self._session() as session:
            session.execute(
                update(CalAppointment)
                .where(
                    col(CalAppointment.id) == booking_id,
                    col(CalAppointment.business) == self.business.name,
                    col(CalAppointment.status) == BOOKED,
                )
                .values(status=CANCELLED, updated_at=datetime.now(UTC).replace(tzinfo=None))
            )
            session.execute(
                delete(CalStaffCell).where(
                    col(CalStaffCell.appointment_id) == booking_id,
                    col(CalStaffCell.business) == self.business.name,
                )
            )
            session.commit()
        return self._to_booking(self._get(booking_id))

    def _reschedule(self, booking_id: str, new_start: datetime) -> Booking:
        row = self._get(booking_id)
        if row.status != BOOKED:
            raise BookingNotFoundError(f"booking {booking_id!r} is cancelled")
        svc = self._service(row.service)
        problem = self.business.hours_violation(svc.id, new_start)
        if problem is not None:
            raise SlotUnavailableError(problem)
        start_utc = _to_utc(new_start)
        end_utc = start_utc + svc.duration
        if start_utc == row.start_utc:
            return self._to_booking(row)
        cells = self._cells(start_utc, end_utc)
        busy = self._busy_staff(cells, ignore=booking_id)
        # Keep the same staff member when possible, else move to another free one.
        candidates = [row.staff] + [m for m in self.business.staff_members if m != row.staff]
        for member in [m for m in candidates if m not in busy]:
            with self._session() as session:
                moved = session.execute(
                    update(CalAppointment)
                    .where(
                        col(CalAppointment.id) == booking_id, col(CalAppointment.status) == BOOKED
                    )
                    .values(
                        start_utc=start_utc,
                        end_utc=end_utc,
                        staff=member,
                        updated_at=datetime.now(UTC).replace(tzinfo=None),
                    )
                )
                if moved.rowcount != 1:
                    session.rollback()
                    raise BookingNotFoundError(f"booking {booking_id!r} is cancelled")
                session.execute(
                    delete(CalStaffCell).where(col(CalStaffCell.appointment_id) == booking_id)
                )
                session.add_all(self._cell_rows(member, cells, booking_id))
                try:
                    session.flush()
                except IntegrityError:  # taken concurrently: the old booking stays as it was
                    session.rollback()
                    continue
                session.commit()
            return self._to_booking(self._get(booking_id))
        raise SlotUnavailableError(self._taken_message(svc, start_utc, self.business.staff_members))

    def _list_bookings(self) -> list[Booking]:
        stmt = (
            select(CalAppointment)
            .where(col(CalAppointment.business) == self.business.name,
                   col(CalAppointment.status) == BOOKED)
            .order_by(col(CalAppointment.start_utc))
        )
        with self._session() as session:
            return [self._to_booking(r) for r in session.scalars(stmt)]

    def _find_bookings(self, phone: str | None, name: str | None) -> list[Booking]:
        if phone is None and name is None:
            raise ValueError("find_bookings needs a phone number or a name")
        stmt = (
            select(CalAppointment)
            .where(
                col(CalAppointment.business) == self.business.name,
                col(CalAppointment.status) == BOOKED,
            )
            .order_by(col(CalAppointment.start_utc))
        )
        if phone is not None:
            stmt = stmt.where(col(CalAppointment.phone) == clean_phone(phone))
        with self._session() as session:
            rows = list(session.scalars(stmt))
        if name is not None:  # compared in Python: SQLite's lower() only folds ASCII
            wanted = clean_name(name).casefold()
            rows = [r for r in rows if r.name.casefold() == wanted]
        return [self._to_booking(r) for r in rows]

    def _seed(self, entries: list[Mapping[str, Any]]) -> list[Booking]:
        seeded: list[Booking] = []
        for entry in entries:
            svc = self._service(str(entry["service"]))
            start = entry["start"]
            if isinstance(start, str):
                start = datetime.fromisoformat(start)
            if start.tzinfo is None:
                start = start.replace(tzinfo=self.business.tz)
            candidates = self._staff_candidates(entry.get("staff"))
            name = clean_name(str(entry.get("name", "")))
            phone = clean_phone(str(entry.get("phone", "")))
            seeded.append(self._insert(svc, _to_utc(start), name, phone, candidates, None))
        return seeded


def _build_builtin(ctx: Any, _settings: Any, _secrets: Any) -> BuiltinCalendar:
    if ctx.engine is None:
        raise InvalidRequestError("the builtin calendar needs the application database")
    return BuiltinCalendar(business=ctx.business, engine=ctx.engine)


def _kind() -> Any:
    from connectors.registry import ConnectorKind, NoSecrets, StrictModel

    class BuiltinSettings(StrictModel):
        """The embedded calendar lives in the application database: nothing to configure."""

    return ConnectorKind(
        name="builtin",
        description="Embedded SQL calendar in the application database (SQLite / PostgreSQL)",
        settings_model=BuiltinSettings,
        secrets_model=NoSecrets,
        build=_build_builtin,
    )


KIND = _kind()
