"""Cal.com (API v2) connector: each business service is booked into one Cal.com event type.

Shapes as in Cal.com's v2 reference (cal.com/docs/api-reference/v2): ``GET /v2/slots`` with
``cal-api-version: 2024-09-04`` (``eventTypeId``, ``start``, ``end``, ``timeZone``) answers
``{"status": "success", "data": {"<YYYY-MM-DD>": [{"start": "<ISO with offset>"}]}}``;
``POST /v2/bookings`` (``cal-api-version: 2024-08-13``, like every bookings endpoint) takes
``start`` (UTC ISO), ``eventTypeId``, ``attendee {name, email, timeZone, phoneNumber}`` and
``metadata`` (string values) and answers ``data`` = the booking (``id``, ``uid``, ``start``,
``end``, ``status``, ``eventTypeId``, ``attendees``, ``metadata``);
``POST /v2/bookings/{uid}/reschedule`` (``start``, ``reschedulingReason``) answers the *new*
booking, with a new ``uid``; ``POST /v2/bookings/{uid}/cancel`` (``cancellationReason``);
``GET /v2/bookings`` filters on ``status``, ``attendeeEmail``, ``attendeeName``,
``eventTypeIds``, ``afterStart`` (take/skip pages); ``GET /v2/bookings/{uid}``; ``GET /v2/me``.

Cal.com needs an attendee email, callers give a phone number: the attendee becomes
``<digits>@<attendee_email_domain>`` (``phone.invalid`` by default, a reserved domain that never
receives mail); the number goes in ``attendee.phoneNumber`` (only when E.164, which Cal.com
insists on) and ``metadata.phone``. Cal.com has no idempotency key, so ``book`` first looks for
an upcoming booking of that attendee whose ``metadata.idempotencyKey`` is the key: that lookup
makes a retried POST safe. The event type owns its host(s): a staff preference is checked
against the business but not enforced, and ``staff`` is reported only when the business has one
staff member or the booking's host is named like one. Each event type's length should equal its
service's duration (the booking's own end is what is reported).
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import Field, PositiveInt, SecretStr

from connectors.base import (
    BOOKED,
    CANCELLED,
    Booking,
    BookingNotFoundError,
    Capability,
    ConnectorStatusError,
    InvalidRequestError,
    MalformedResponseError,
    Slot,
    SlotUnavailableError,
    clean_name,
    clean_phone,
)
from connectors.http import JsonApi, dig
from connectors.registry import BuildContext, ConnectorKind, StrictModel
from connectors.schedule import Business, Service
from connectors.slots import (
    candidate_starts_between,
    check_bookable,
    free_slots_from_starts,
    require_service,
    resolve_staff,
)

__all__ = ["KIND", "CalcomConnector", "CalcomSecrets", "CalcomSettings"]

SLOTS_VERSION = {"cal-api-version": "2024-09-04"}
BOOKINGS_VERSION = {"cal-api-version": "2024-08-13"}
_PAGE = 100
_MAX_PAGES = 20
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
# Cal.com's 400 messages when the time can't be had (taken, outside the host's availability)
_UNAVAILABLE = ("no_available_users", "no available users", "already has booking",
                "not available", "unavailable", "already booked", "booking limit")


class CalcomSettings(StrictModel):
    base_url: str = Field(default="https://api.cal.com", pattern=r"^https?://\S+$")
    event_types: dict[str, PositiveInt]  # business service id -> Cal.com event type id
    attendee_email_domain: str = Field(default="phone.invalid",
                                       pattern=r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


class CalcomSecrets(StrictModel):
    api_key: SecretStr = Field(min_length=1)


def _utc_z(value: datetime) -> str:
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _parse_dt(value: Any, what: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise MalformedResponseError(f"{what}: unreadable datetime") from None
    if parsed.tzinfo is None:
        raise MalformedResponseError(f"{what}: datetime without an offset")
    return parsed


class CalcomConnector:
    capabilities: frozenset[Capability] = frozenset(Capability)

    def __init__(
        self,
        *,
        business: Business,
        settings: CalcomSettings,
        secrets: CalcomSecrets,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        missing = [s.id for s in business.services if s.id not in settings.event_types]
        if missing:
            raise InvalidRequestError(f"cal.com settings map no event type for service(s) "
                                      f"{', '.join(missing)} of {business.name}")
        self.business = business
        self.settings = settings
        self._services_of: dict[int, list[str]] = {}  # event type -> services booked into it
        for svc in business.services:
            self._services_of.setdefault(settings.event_types[svc.id], []).append(svc.id)
        self._api = JsonApi(
            provider="cal.com",
            base_url=settings.base_url,
            headers={"Authorization": f"Bearer {secrets.api_key.get_secret_value()}"},
            timeout_s=timeout_s,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._api.aclose()

    # -- Connector protocol ------------------------------------------------------------------

    async def list_free_slots(self, *, service: str, start: datetime, end: datetime,
                              staff: str | None = None) -> list[Slot]:
        svc = require_service(self.business, service)
        if not candidate_starts_between(self.business, svc.id, start, end):
            return []  # closed all along: nothing to ask
        what = "cal.com slots"
        resp = await self._api.request("GET", "/v2/slots", headers=SLOTS_VERSION, params={
            "eventTypeId": self.settings.event_types[svc.id],
            "start": _utc_z(start),
            "end": _utc_z(end),
            "timeZone": self.business.timezone,
        })
        days = dig(resp.data, "data", what=what)
        if not isinstance(days, dict):
            raise MalformedResponseError(f"{what}: 'data' is not an object")
        host = self.business.staff[0] if len(self.business.staff) == 1 else None
        offered: list[tuple[datetime, str | None]] = []
        for day_slots in days.values():
            if not isinstance(day_slots, list):
                raise MalformedResponseError(f"{what}: a day's slots are not a list")
            offered += [(_parse_dt(dig(s, "start", what=what), what), host) for s in day_slots]
        return free_slots_from_starts(self.business, svc.id, start, end, offered, staff)

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
        svc = check_bookable(self.business, service, start)
        resolve_staff(self.business, staff)  # an unknown name is refused; a known one not enforced
        name, phone = clean_name(name), clean_phone(phone)
        digits = re.sub(r"\D", "", phone)
        if not name or not digits:
            raise InvalidRequestError("a booking needs the caller's name and phone number")
        email = f"{digits}@{self.settings.attendee_email_domain}"
        event_type = self.settings.event_types[svc.id]
        existing = await self._by_key(email, event_type, idempotency_key)
        if existing is not None:
            return existing
        attendee: dict[str, str] = {"name": name, "email": email,
                                    "timeZone": self.business.timezone}
        if _E164.match(phone):
            attendee["phoneNumber"] = phone
        body = {
            "start": _utc_z(start),
            "eventTypeId": event_type,
            "attendee": attendee,
            "metadata": {"idempotencyKey": idempotency_key, "phone": phone, "service": svc.id},
        }
        try:
            resp = await self._api.request("POST", "/v2/bookings", json_body=body,
                                           headers=BOOKINGS_VERSION)
        except ConnectorStatusError as exc:
            raise self._unavailable(exc, svc, start) from None
        return self._require(dig(resp.data, "data", what="cal.com booking"), "new booking")

    async def cancel(self, booking_id: str) -> Booking:
        _, current = await self._get(booking_id)
        if not current.active:
            return current
        try:
            await self._api.request(
                "POST", f"/v2/bookings/{booking_id}/cancel", headers=BOOKINGS_VERSION,
                json_body={"cancellationReason": "Cancelled by the caller on the phone"},
            )
        except ConnectorStatusError as exc:
            if exc.status_code == 404:
                raise BookingNotFoundError(f"no booking {booking_id!r}") from None
            raise
        return dataclasses.replace(current, status=CANCELLED)

    async def reschedule(self, booking_id: str, new_start: datetime) -> Booking:
        raw, current = await self._get(booking_id)
        if not current.active:
            moved = await self._rescheduled_to(raw, new_start)
            if moved is not None:  # a retry of a reschedule that already went through
                return moved
            raise BookingNotFoundError(f"booking {booking_id!r} is cancelled")
        svc = check_bookable(self.business, current.service, new_start)
        if new_start.astimezone(UTC) == current.start.astimezone(UTC):
            return current
        body = {"start": _utc_z(new_start),
                "reschedulingReason": "Rescheduled by the caller on the phone"}
        try:
            resp = await self._api.request(
                "POST", f"/v2/bookings/{booking_id}/reschedule", json_body=body,
                headers=BOOKINGS_VERSION,
            )
        except ConnectorStatusError as exc:
            if exc.status_code == 404:
                raise BookingNotFoundError(f"no booking {booking_id!r}") from None
            raise self._unavailable(exc, svc, new_start) from None
        return self._require(dig(resp.data, "data", what="cal.com reschedule"), booking_id)

    async def find_bookings(
        self, *, phone: str | None = None, name: str | None = None
    ) -> list[Booking]:
        if phone is None and name is None:
            raise ValueError("find_bookings needs a phone number or a name")
        params: dict[str, Any] = {
            "status": "upcoming",
            "eventTypeIds": ",".join(str(v) for v in self._services_of),
            "afterStart": _utc_z(datetime.now(UTC)),
        }
        wanted_phone = re.sub(r"\D", "", phone) if phone is not None else None
        wanted_name = clean_name(name).casefold() if name is not None else None
        if wanted_phone is not None:
            params["attendeeEmail"] = f"{wanted_phone}@{self.settings.attendee_email_domain}"
        if name is not None:
            params["attendeeName"] = clean_name(name)
        found: list[Booking] = []
        for item in await self._list(params):
            booking = self._to_booking(item)
            if booking is None or not booking.active:
                continue
            if wanted_phone is not None and re.sub(r"\D", "", booking.phone) != wanted_phone:
                continue
            if wanted_name is not None and booking.name.casefold() != wanted_name:
                continue
            found.append(booking)
        return sorted(found, key=lambda b: b.start)

    async def health_check(self) -> None:
        resp = await self._api.request("GET", "/v2/me", headers=BOOKINGS_VERSION)
        dig(resp.data, "data", "id", what="cal.com me")

    # -- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _uid(booking_id: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,128}", booking_id):
            raise BookingNotFoundError(f"no booking {booking_id!r}")
        return booking_id

    def _unavailable(self, exc: ConnectorStatusError, svc: Service, start: datetime) -> Exception:
        detail = str(exc.body or "").casefold()
        if exc.status_code in (400, 409) and any(p in detail for p in _UNAVAILABLE):
            when = start.astimezone(self.business.tz).strftime("%A %d %B at %H:%M")
            return SlotUnavailableError(f"there is no free slot for a {svc.name} on {when}")
        return exc

    async def _get(self, booking_id: str) -> tuple[dict[str, Any], Booking]:
        """The raw booking and its :class:`Booking`; BookingNotFoundError when not ours."""
        try:
            resp = await self._api.request("GET", f"/v2/bookings/{self._uid(booking_id)}",
                                           headers=BOOKINGS_VERSION)
        except ConnectorStatusError as exc:
            if exc.status_code == 404:
                raise BookingNotFoundError(f"no booking {booking_id!r}") from None
            raise
        data = dig(resp.data, "data", what="cal.com booking")
        return data, self._require(data, booking_id)

    async def _rescheduled_to(self, raw: dict[str, Any], new_start: datetime) -> Booking | None:
        """The booking ``raw`` was already moved to at ``new_start`` (a retried reschedule)."""
        target = raw.get("rescheduledToUid")
        if not isinstance(target, str):
            return None
        _, moved = await self._get(target)
        same = moved.start.astimezone(UTC) == new_start.astimezone(UTC)
        return moved if moved.active and same else None

    async def _by_key(self, email: str, event_type: int, key: str) -> Booking | None:
        params = {"status": "upcoming", "attendeeEmail": email, "eventTypeIds": str(event_type)}
        for item in await self._list(params):
            meta = item.get("metadata") if isinstance(item, dict) else None
            if isinstance(meta, dict) and meta.get("idempotencyKey") == key:
                booking = self._to_booking(item)
                if booking is not None:
                    return booking
        return None

    async def _list(self, params: dict[str, Any]) -> list[Any]:
        what = "cal.com bookings"
        items: list[Any] = []
        for page in range(_MAX_PAGES):
            resp = await self._api.request("GET", "/v2/bookings", headers=BOOKINGS_VERSION,
                                           params={**params, "take": _PAGE, "skip": page * _PAGE})
            data = dig(resp.data, "data", what=what)
            if not isinstance(data, list):
                raise MalformedResponseError(f"{what}: 'data' is not a list")
            items += data
            pagination = resp.data.get("pagination")
            if not data or not (isinstance(pagination, dict) and pagination.get("hasNextPage")):
                break
        return items

    def _require(self, data: Any, booking_id: str) -> Booking:
        booking = self._to_booking(data)
        if booking is None:  # another event type: not one of this business's bookings
            raise BookingNotFoundError(f"no booking {booking_id!r}")
        return booking

    def _to_booking(self, data: Any) -> Booking | None:
        what = "cal.com booking"
        event_type = data.get("eventTypeId") if isinstance(data, dict) else None
        if event_type is None and isinstance(data, dict):  # older shapes nest it
            event_type = dig(data, "eventType", "id", what=what)
        try:
            services = self._services_of.get(int(event_type))
        except (TypeError, ValueError):
            raise MalformedResponseError(f"{what}: answer has no usable 'eventTypeId'") from None
        if not services:
            return None
        attendee = dig(data, "attendees", 0, what=what)
        name = dig(attendee, "name", what=what)
        meta = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
        service = meta.get("service") if meta.get("service") in services else services[0]
        local, _, domain = str(attendee.get("email", "")).partition("@")
        from_email = f"+{local}" if domain == self.settings.attendee_email_domain else ""
        phone = meta.get("phone") or attendee.get("phoneNumber") or from_email
        status = str(dig(data, "status", what=what)).casefold()
        return Booking(
            id=str(dig(data, "uid", what=what)),
            business=self.business.name,
            service=service,
            start=_parse_dt(dig(data, "start", what=what), what).astimezone(self.business.tz),
            end=_parse_dt(dig(data, "end", what=what), what).astimezone(self.business.tz),
            name=str(name),
            phone=str(phone),
            staff=self._staff(data),
            status=CANCELLED if status in ("cancelled", "rejected") else BOOKED,
        )

    def _staff(self, data: dict[str, Any]) -> str | None:
        if len(self.business.staff) == 1:
            return self.business.staff[0]
        hosts = data.get("hosts")
        if isinstance(hosts, list) and hosts and isinstance(hosts[0], dict):
            host = str(hosts[0].get("name", "")).casefold()
            return next((m for m in self.business.staff if m.casefold() == host), None)
        return None


def _build(ctx: BuildContext, settings: Any, secrets: Any) -> CalcomConnector:
    return CalcomConnector(business=ctx.business, settings=settings, secrets=secrets,
                           transport=ctx.transport, timeout_s=ctx.timeout_s)


KIND = ConnectorKind(
    name="calcom",
    description="Cal.com (API v2): one event type per service, bearer API key",
    settings_model=CalcomSettings,
    secrets_model=CalcomSecrets,
    build=_build,
)
