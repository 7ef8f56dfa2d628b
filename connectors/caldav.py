"""CalDAV connector (RFC 4791): Nextcloud, Fastmail, iCloud, Radicale, Google's CalDAV...

Availability is a ``free-busy-query`` REPORT on each staff member's calendar, intersected with
the business's opening hours and grid. A booking is one VEVENT whose resource name derives from
the idempotency key and is created with ``PUT`` + ``If-None-Match: *``: a repeat gets 412 and
returns the event already there. Reschedule and cancel send the ETag they read in ``If-Match``,
so a change made meanwhile in the calendar app is never overwritten.

No double booking, even with many agents booking at once: CalDAV has no transaction spanning
two resources, so before its event is written a booking *claims* every time cell it covers
(the builtin calendar's cells) by creating one small "hold" resource per (staff, cell) in a
separate holds collection, each with ``If-None-Match: *`` — the server lets exactly one
creator win each name. A booking that loses any cell releases the cells it got and tries the
next staff member. Holds point at their booking (``X-VA-BOOKING``); a hold whose booking is
gone (a crash between claim and write, or an event deleted in the calendar app) is recognised
as stale after a grace period and reclaimed, so the calendar heals itself. The holds live in
their own collection (default: the first calendar's URL + ``-va-holds``, created with
MKCALENDAR on first use) so that people's calendars only show real appointments.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import AnyHttpUrl, Field, SecretStr, field_validator

from connectors.base import (
    BOOKED,
    CANCELLED,
    Booking,
    BookingNotFoundError,
    Capability,
    ConnectorError,
    ConnectorStatusError,
    InvalidRequestError,
    Slot,
    SlotUnavailableError,
    clean_name,
    clean_phone,
)
from connectors.builtin import cell_minutes
from connectors.caldav_ical import (
    EventData,
    build_event,
    build_hold,
    calendar_query_body,
    free_busy_query_body,
    parse_event,
    parse_free_busy,
    parse_hold_booking,
    parse_multistatus_calendar_data,
    utc_stamp,
)
from connectors.http import JsonApi
from connectors.registry import BuildContext, ConnectorKind, StrictModel
from connectors.schedule import Business
from connectors.slots import (
    check_bookable,
    free_slots_from_busy,
    require_service,
    resolve_staff,
)

__all__ = ["KIND", "CalDavCalendar", "CalDavSecrets", "CalDavSettings"]

STALE_HOLD_AFTER = timedelta(minutes=2)
FIND_WINDOW = timedelta(days=366)
ICS = {"Content-Type": "text/calendar; charset=utf-8"}
XML = {"Content-Type": "application/xml; charset=utf-8"}


class CalDavSettings(StrictModel):
    calendar_url: AnyHttpUrl | None = None  # for every staff member not in staff_calendars
    staff_calendars: dict[str, AnyHttpUrl] = Field(default_factory=dict)
    holds_url: AnyHttpUrl | None = None
    username: str | None = None

    @field_validator("staff_calendars")
    @classmethod
    def _non_empty_names(cls, value: dict[str, AnyHttpUrl]) -> dict[str, AnyHttpUrl]:
        if any(not name.strip() for name in value):
            raise ValueError("staff names must not be empty")
        return value


class CalDavSecrets(StrictModel):
    password: SecretStr | None = None


def _collection(url: object) -> str:
    text = str(url)
    return text if text.endswith("/") else text + "/"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-") or "staff"


class CalDavCalendar:
    capabilities = frozenset(Capability)

    def __init__(
        self,
        *,
        business: Business,
        settings: CalDavSettings,
        secrets: CalDavSecrets,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.business = business
        self.calendars: dict[str, str] = {}
        for member in business.staff_members:
            url = settings.staff_calendars.get(member, settings.calendar_url)
            if url is None:
                raise InvalidRequestError(f"no CalDAV calendar configured for staff {member!r}")
            self.calendars[member] = _collection(url)
        unknown = set(settings.staff_calendars) - set(business.staff_members)
        if unknown:
            raise InvalidRequestError(f"staff_calendars names unknown staff: {sorted(unknown)}")
        first = next(iter(self.calendars.values()))
        self.holds = _collection(settings.holds_url or first.rstrip("/") + "-va-holds")
        self._cell = timedelta(minutes=cell_minutes(business))
        auth = None
        if settings.username is not None:
            password = secrets.password.get_secret_value() if secrets.password else ""
            auth = httpx.BasicAuth(settings.username, password)
        self._api = JsonApi(provider="caldav", base_url="", auth=auth, transport=transport,
                            timeout_s=timeout_s)
        self._holds_ready = False

    async def aclose(self) -> None:
        await self._api.aclose()

    # -- availability ------------------------------------------------------------------------

    async def _busy(self, calendar: str, start: datetime, end: datetime
                    ) -> list[tuple[datetime, datetime]]:
        raw = await self._api.send("REPORT", calendar, content=free_busy_query_body(start, end),
                                   headers={**XML, "Depth": "1"})
        return parse_free_busy(raw.body, what="caldav free-busy")

    async def list_free_slots(self, *, service: str, start: datetime, end: datetime,
                              staff: str | None = None) -> list[Slot]:
        svc = require_service(self.business, service)
        span_end = end + svc.duration
        busy_by_calendar = {
            cal: await self._busy(cal, start, span_end) for cal in set(self.calendars.values())
        }
        busy = {member: busy_by_calendar[cal] for member, cal in self.calendars.items()}
        return free_slots_from_busy(self.business, service, start, end, busy, staff)

    # -- booking -----------------------------------------------------------------------------

    def _uid(self, key: str) -> str:
        return "va-" + hashlib.sha256(f"{self.business.name}\0{key}".encode()).hexdigest()[:32]

    async def book(
        self, *, service: str, start: datetime, name: str, phone: str,
        staff: str | None = None, idempotency_key: str,
    ) -> Booking:
        svc = check_bookable(self.business, service, start)
        name, phone = clean_name(name), clean_phone(phone)
        if not name or not phone:
            raise InvalidRequestError("a booking needs the caller's name and phone number")
        uid = self._uid(idempotency_key)
        existing = await self._locate(uid)
        if existing is not None:
            return self._to_booking(existing[2], BOOKED)
        begin, finish = start.astimezone(UTC), start.astimezone(UTC) + svc.duration
        for member in resolve_staff(self.business, staff):
            calendar = self.calendars[member]
            if any(b < finish and begin < e for b, e in await self._busy(calendar, begin, finish)):
                continue
            if not await self._claim(member, begin, finish, uid):
                continue
            data = EventData(uid=uid, start=begin, end=finish, service=svc.id, name=name,
                             phone=phone, staff=member, key=idempotency_key)
            raw = await self._api.send(
                "PUT", calendar + uid + ".ics", content=build_event(data, summary=
                f"{svc.name} – {name}"), headers={**ICS, "If-None-Match": "*"},
                ok_statuses=(412,),
            )
            if raw.status_code == 412:  # written concurrently by a retry of this same booking
                found = await self._locate(uid)
                if found is None:
                    raise ConnectorError("caldav event vanished after a conflicting create",
                                         retryable=True)
                return self._to_booking(found[2], BOOKED)
            return self._to_booking(data, BOOKED)
        when = start.astimezone(self.business.tz).strftime("%A %d %B at %H:%M")
        raise SlotUnavailableError(f"there is no free slot for a {svc.name} on {when}")

    async def cancel(self, booking_id: str) -> Booking:
        found = await self._locate(booking_id)
        if found is None:
            raise BookingNotFoundError(f"no booking {booking_id!r}")
        href, etag, data = found
        raw = await self._api.send("DELETE", href, headers={"If-Match": etag} if etag else None,
                                   ok_statuses=(404, 412))
        if raw.status_code == 412:  # edited in the calendar app meanwhile: the caller retries
            raise ConnectorError("the booking was changed in the calendar meanwhile",
                                 retryable=True)
        await self._release(data.staff, data.start, data.end, data.uid)
        return self._to_booking(data, CANCELLED)

    async def reschedule(self, booking_id: str, new_start: datetime) -> Booking:
        found = await self._locate(booking_id)
        if found is None:
            raise BookingNotFoundError(f"no booking {booking_id!r}")
        href, etag, data = found
        svc = check_bookable(self.business, data.service, new_start)
        begin = new_start.astimezone(UTC)
        finish = begin + svc.duration
        if begin == data.start:
            return self._to_booking(data, BOOKED)
        member = data.staff if data.staff in self.calendars else self.business.staff_members[0]
        calendar = self.calendars[member]
        busy = [(b, e) for b, e in await self._busy(calendar, begin, finish)
                if not (b >= data.start and e <= data.end)]  # its own time does not count
        if any(b < finish and begin < e for b, e in busy) or not await self._claim(
            member, begin, finish, data.uid
        ):
            when = new_start.astimezone(self.business.tz).strftime("%A %d %B at %H:%M")
            raise SlotUnavailableError(f"there is no free slot for a {svc.name} on {when}")
        moved = EventData(uid=data.uid, start=begin, end=finish, service=data.service,
                          name=data.name, phone=data.phone, staff=member, key=data.key)
        try:
            await self._api.send("PUT", href, content=build_event(moved, summary=(
                f"{svc.name} – {data.name}")), headers={**ICS, "If-Match": etag})
        except ConnectorStatusError as exc:
            await self._release(member, begin, finish, data.uid, keep=(data.start, data.end))
            if exc.status_code == 412:
                raise ConnectorError("the booking was changed in the calendar meanwhile",
                                     retryable=True) from None
            raise
        await self._release(data.staff, data.start, data.end, data.uid, keep=(begin, finish))
        return self._to_booking(moved, BOOKED)

    async def find_bookings(
        self, *, phone: str | None = None, name: str | None = None
    ) -> list[Booking]:
        if phone is None and name is None:
            raise ValueError("find_bookings needs a phone number or a name")
        now = datetime.now(UTC)
        body = calendar_query_body(now - timedelta(days=1), now + FIND_WINDOW)
        wanted_phone = clean_phone(phone) if phone else None
        wanted_name = clean_name(name).casefold() if name else None
        out: dict[str, Booking] = {}
        for calendar in set(self.calendars.values()):
            raw = await self._api.send("REPORT", calendar, content=body,
                                       headers={**XML, "Depth": "1"})
            for _href, _etag, ics in parse_multistatus_calendar_data(raw.body,
                                                                     what="caldav query"):
                data = parse_event(ics, what="caldav query")
                if not data.service or (wanted_phone and data.phone != wanted_phone):
                    continue
                if wanted_name and data.name.casefold() != wanted_name:
                    continue
                out[data.uid] = self._to_booking(data, BOOKED)
        return sorted(out.values(), key=lambda b: b.start)

    async def health_check(self) -> None:
        for calendar in {*self.calendars.values()}:
            await self._api.send("PROPFIND", calendar, headers={**XML, "Depth": "0"},
                                 content='<?xml version="1.0"?><D:propfind xmlns:D="DAV:">'
                                         "<D:prop><D:resourcetype/></D:prop></D:propfind>")
        await self._ensure_holds()

    # -- holds (the occupancy claims) --------------------------------------------------------

    def _cells(self, begin: datetime, finish: datetime) -> list[datetime]:
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        first = (begin - epoch) // self._cell
        last = -((epoch - finish) // self._cell)
        return [epoch + i * self._cell for i in range(first, last)]

    def _hold_href(self, member: str, cell: datetime) -> str:
        return self.holds + quote(f"{_slug(member)}-{utc_stamp(cell)}.ics")

    async def _ensure_holds(self) -> None:
        if self._holds_ready:
            return
        raw = await self._api.send("PROPFIND", self.holds, headers={**XML, "Depth": "0"},
                                   ok_statuses=(404,))
        if raw.status_code == 404:
            # 405 / 409: created a moment ago by a concurrent booking
            await self._api.send("MKCALENDAR", self.holds, ok_statuses=(405, 409))
        self._holds_ready = True

    async def _claim(self, member: str, begin: datetime, finish: datetime, uid: str) -> bool:
        """Create every hold of the booking's cells; all or nothing."""
        await self._ensure_holds()
        claimed: list[datetime] = []
        for cell in self._cells(begin, finish):
            if await self._claim_cell(member, cell, uid):
                claimed.append(cell)
                continue
            for got in claimed:
                await self._drop_hold(self._hold_href(member, got), uid)
            return False
        return True

    async def _claim_cell(self, member: str, cell: datetime, uid: str) -> bool:
        href = self._hold_href(member, cell)
        for _ in range(2):
            body = build_hold(uid=f"{uid}-{utc_stamp(cell)}", cell_start=cell, cell=self._cell,
                              booking_uid=uid, staff=member)
            raw = await self._api.send("PUT", href, content=body,
                                       headers={**ICS, "If-None-Match": "*"}, ok_statuses=(412,))
            if raw.status_code != 412:
                return True
            current = await self._api.send("GET", href, ok_statuses=(404,))
            if current.status_code == 404:
                continue  # released meanwhile: try again
            owner = parse_hold_booking(current.body, what="caldav hold")
            if owner == uid:
                return True  # ours, from an earlier attempt of this same booking
            if not await self._hold_is_stale(owner, current):
                return False
            etag = current.headers.get("etag")
            await self._api.send("DELETE", href, headers={"If-Match": etag} if etag else None,
                                 ok_statuses=(404, 412))
        return False

    async def _hold_is_stale(self, owner: str, hold: Any) -> bool:
        if owner and await self._locate(owner) is not None:
            return False
        modified = hold.headers.get("last-modified")
        try:
            age = datetime.now(UTC) - parsedate_to_datetime(modified)
        except (TypeError, ValueError):
            return False
        return age > STALE_HOLD_AFTER

    async def _drop_hold(self, href: str, uid: str) -> None:
        current = await self._api.send("GET", href, ok_statuses=(404,))
        if current.status_code == 404 or parse_hold_booking(current.body, what="hold") != uid:
            return
        etag = current.headers.get("etag")
        await self._api.send("DELETE", href, headers={"If-Match": etag} if etag else None,
                             ok_statuses=(404, 412))

    async def _release(self, member: str, begin: datetime, finish: datetime, uid: str, *,
                       keep: tuple[datetime, datetime] | None = None) -> None:
        kept = set(self._cells(*keep)) if keep else set()
        for cell in self._cells(begin, finish):
            if cell not in kept:
                await self._drop_hold(self._hold_href(member, cell), uid)

    # -- lookups -----------------------------------------------------------------------------

    async def _locate(self, uid: str) -> tuple[str, str, EventData] | None:
        if not re.fullmatch(r"[A-Za-z0-9._-]{1,200}", uid):
            raise BookingNotFoundError("no such booking")
        for calendar in dict.fromkeys(self.calendars.values()):
            href = calendar + uid + ".ics"
            raw = await self._api.send("GET", href, ok_statuses=(404, 410))
            if raw.status_code in (404, 410):
                continue
            return href, raw.headers.get("etag", ""), parse_event(raw.body, what="caldav GET")
        return None

    def _to_booking(self, data: EventData, status: str) -> Booking:
        tz = self.business.tz
        return Booking(
            id=data.uid, business=self.business.name, service=data.service,
            start=data.start.astimezone(tz), end=data.end.astimezone(tz), name=data.name,
            phone=data.phone, staff=data.staff if self.business.staff else None, status=status,
        )


def _build(ctx: BuildContext, settings: CalDavSettings, secrets: CalDavSecrets) -> CalDavCalendar:
    return CalDavCalendar(business=ctx.business, settings=settings, secrets=secrets,
                          transport=ctx.transport, timeout_s=ctx.timeout_s)


KIND = ConnectorKind(
    name="caldav",
    description="Any CalDAV server (Nextcloud, Fastmail, iCloud, Radicale, Google CalDAV)",
    settings_model=CalDavSettings,
    secrets_model=CalDavSecrets,
    build=_build,
)
