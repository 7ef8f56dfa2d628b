"""WebhookConnector: any in-house CRM with a JSON REST API, configured without code.

The admin gives a base URL, an auth header and, per operation, an :class:`Endpoint` (method,
path, query and body templates, see :mod:`connectors.webhook_mapping`) with a response mapping
made of JSON pointers. Opening hours, services, durations and the slot grid always come from the
business definition (:mod:`connectors.slots`): the CRM can narrow what the agent offers, never
widen it. A date-time the CRM sends without an offset is read in the business timezone.

Operations and what they need:

* ``availability`` and ``book`` are required. ``book`` sends the idempotency key in
  ``idempotency_header`` (and as ``{{ idempotency_key }}``); the CRM must honour it.
* ``get`` (one booking by ``{{ booking_id }}``) is optional; ``reschedule`` needs it (to learn
  the booking's service and check the new start against opening hours before asking the CRM),
  and ``cancel`` needs it unless the cancel answer itself maps the booking's start and service.
* ``find`` (bookings by ``{{ phone }}`` / ``{{ name }}``); a ``not_found_statuses`` answer
  means no bookings. Bookings whose service the business doesn't offer are skipped.
* ``health``: any 2xx answer is healthy. Without it the check is ``GET base_url`` and any
  answer below 500 counts (it proves the CRM is reachable, not that the credentials work).

``conflict_statuses`` on book / reschedule mean the slot is taken; ``not_found_statuses`` mean
the booking does not exist. Caller names and phone numbers may be sent in queries and bodies but
never in paths, which appear in error messages; no error message or log line carries personal
data or secrets.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

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
)
from connectors.http import JsonApi
from connectors.registry import BuildContext, ConnectorKind
from connectors.schedule import Business, Service
from connectors.slots import (
    Interval,
    candidate_starts_between,
    check_bookable,
    free_slots_from_busy,
    free_slots_from_starts,
    require_service,
    resolve_staff,
)
from connectors.webhook_mapping import (
    BookingFields,
    BookingMapping,
    BusyMapping,
    Endpoint,
    WebhookSecrets,
    WebhookSettings,
    as_datetime,
    as_list,
    as_text,
    optional,
    render_json,
    render_query,
    render_string,
    required,
    same_phone,
)

__all__ = ["KIND", "Endpoint", "WebhookConnector", "WebhookSecrets", "WebhookSettings"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(slots=True)
class _Known:
    """Booking values known from the request (or an earlier read) when the CRM omits them."""

    status: str = BOOKED
    service: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    name: str = ""
    phone: str = ""
    staff: str | None = None


class _UnknownServiceError(MalformedResponseError):
    pass


_ID_ONLY = BookingMapping(id_pointer="/id")


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class WebhookConnector:
    """:class:`~connectors.base.Connector` over a CRM described by :class:`WebhookSettings`."""

    def __init__(
        self,
        *,
        business: Business,
        settings: WebhookSettings,
        secrets: WebhookSecrets,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.business = business
        self.settings = settings
        headers = {"Accept": "application/json"}
        if secrets.auth_header_value is not None:
            headers[settings.auth_header_name] = secrets.auth_header_value.get_secret_value()
        headers.update({k: v.get_secret_value() for k, v in secrets.extra_headers.items()})
        self._api = JsonApi(provider="webhook", base_url=str(settings.base_url), headers=headers,
                            timeout_s=timeout_s, transport=transport)
        optional_ops = {Capability.CANCEL: settings.cancel,
                        Capability.RESCHEDULE: settings.reschedule,
                        Capability.FIND_BOOKINGS: settings.find}
        self.capabilities = frozenset(
            {Capability.LIST_SLOTS, Capability.BOOK}
            | {cap for cap, endpoint in optional_ops.items() if endpoint is not None}
        )

    async def aclose(self) -> None:
        await self._api.aclose()

    # -- protocol ----------------------------------------------------------------------------

    async def list_free_slots(self, *, service: str, start: datetime, end: datetime,
                              staff: str | None = None) -> list[Slot]:
        svc = require_service(self.business, service)
        if not candidate_starts_between(self.business, svc.id, start, end):
            return []  # closed all window long: no need to ask the CRM
        tz = self.business.tz
        last_day = (end - timedelta(microseconds=1)).astimezone(tz).date()
        variables = self._service_vars(svc) | {
            "window_start": _iso(start.astimezone(tz)), "window_end": _iso(end.astimezone(tz)),
            "window_start_utc": _utc(start), "window_end_utc": _utc(end),
            "date": start.astimezone(tz).date().isoformat(), "end_date": last_day.isoformat(),
        }
        endpoint = self.settings.availability
        data = await self._call(endpoint, variables)
        mapping = endpoint.response
        if isinstance(mapping, BusyMapping):
            busy = self._busy(data, mapping)
            return free_slots_from_busy(self.business, svc.id, start, end, busy, staff)
        items = as_list(data, mapping.slots_pointer, "availability")
        offered: list[tuple[datetime, str | None]] = []
        for i, item in enumerate(items):
            what = f"availability item {i}"
            when = as_datetime(required(item, mapping.start_pointer, what),
                               mapping.start_pointer, what, tz)
            who = self._staff(item, mapping.staff_pointer, what)
            if who is None or who in self.business.staff_members:
                offered.append((when, who))  # a staff member the business lacks: not offered
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
        member = resolve_staff(self.business, staff)[0] if staff is not None else None
        name, phone = " ".join(name.split()), phone.strip()
        if not name or not phone:
            raise InvalidRequestError("a booking needs the caller's name and phone number")
        variables = self._slot_vars(svc, start, member) | {
            "name": name, "phone": phone, "idempotency_key": idempotency_key}
        header = self.settings.idempotency_header
        endpoint = self.settings.book
        data = await self._call(endpoint, variables, conflict=True,
                                headers={header: idempotency_key} if header else None)
        known = _Known(service=svc.id, start=start, name=name, phone=phone, staff=member)
        return self._booking(data, endpoint.response, "book", known)

    async def cancel(self, booking_id: str) -> Booking:
        endpoint = self._need(self.settings.cancel, "cancel")
        known = _Known(status=CANCELLED)
        if self.settings.get is not None:
            current = await self._get(booking_id)
            if not current.active:
                return current  # already cancelled: cancelling again changes nothing
            known = self._known(current, status=CANCELLED)
        variables = {"booking_id": booking_id, "timezone": self.business.timezone}
        data = await self._call(endpoint, variables,
                                not_found=f"booking {booking_id!r} not found")
        if endpoint.response is None:
            return self._unmapped(booking_id, known, "cancel")
        booking = self._booking(data, endpoint.response, "cancel", known)
        return dataclasses.replace(booking, status=CANCELLED)

    async def reschedule(self, booking_id: str, new_start: datetime) -> Booking:
        endpoint = self._need(self.settings.reschedule, "reschedule")
        current = await self._get(booking_id)
        if not current.active:
            raise BookingNotFoundError(f"booking {booking_id!r} is cancelled")
        svc = check_bookable(self.business, current.service, new_start)
        if new_start == current.start:
            return current
        variables = self._slot_vars(svc, new_start, current.staff) | {
            "booking_id": booking_id, "new_start": _iso(new_start.astimezone(self.business.tz)),
            "name": current.name, "phone": current.phone,
        }
        data = await self._call(endpoint, variables, conflict=True,
                                not_found=f"booking {booking_id!r} not found")
        known = self._known(current, start=new_start, end=None)
        if endpoint.response is None:
            return self._unmapped(booking_id, known, "reschedule")
        return self._booking(data, endpoint.response, "reschedule", known)

    async def find_bookings(
        self, *, phone: str | None = None, name: str | None = None
    ) -> list[Booking]:
        endpoint = self._need(self.settings.find, "find")
        phone = (phone.strip() or None) if phone is not None else None
        name = (" ".join(name.split()) or None) if name is not None else None
        if phone is None and name is None:
            raise InvalidRequestError("finding bookings needs a phone number or a name")
        variables = {"phone": phone, "name": name, "timezone": self.business.timezone}
        try:
            data = await self._call(endpoint, variables, not_found="no bookings")
        except BookingNotFoundError:
            return []
        mapping = endpoint.response
        found: list[Booking] = []
        skipped = 0
        for i, item in enumerate(as_list(data, mapping.list_pointer, "find")):
            what = f"find item {i}"
            try:
                booking = self._booking(item, mapping, what, _Known(name=name or "",
                                                                    phone=phone or ""))
            except _UnknownServiceError:
                skipped += 1
                continue
            if not booking.active:
                continue
            if phone is not None and not same_phone(booking.phone, phone):
                continue
            if name is not None and booking.name.casefold() != name.casefold():
                continue
            found.append(booking)
        if skipped:
            log.info("webhook find: skipped %d booking(s) for services %s does not offer",
                     skipped, self.business.name)
        return sorted(found, key=lambda b: b.start)

    async def health_check(self) -> None:
        endpoint = self.settings.health
        try:
            if endpoint is None:
                await self._api.request("GET", "/", ok_statuses=tuple(range(300, 500)))
            else:
                today = datetime.now(self.business.tz).date().isoformat()
                await self._call(endpoint,
                                 {"timezone": self.business.timezone, "date": today})
        except MalformedResponseError:
            pass  # it answered; the body of a health answer is not ours to judge

    # -- requests ----------------------------------------------------------------------------

    async def _call(self, endpoint: Endpoint, variables: dict[str, Any], *,
                    headers: dict[str, str] | None = None, conflict: bool = False,
                    not_found: str | None = None) -> Any:
        """Render and send one request; the answer's JSON (None for an empty body)."""
        body = None if endpoint.body is None else render_json(endpoint.body, variables)
        try:
            answer = await self._api.request(
                endpoint.method,
                render_string(endpoint.path, variables, path=True),
                params=render_query(endpoint.query, variables) or None,
                json_body=body,
                headers=headers,
            )
        except ConnectorStatusError as exc:
            if conflict and exc.status_code in self.settings.conflict_statuses:
                raise SlotUnavailableError("that time is no longer available") from None
            if not_found is not None and exc.status_code in self.settings.not_found_statuses:
                raise BookingNotFoundError(not_found) from None
            raise
        return answer.data

    async def _get(self, booking_id: str) -> Booking:
        endpoint = self.settings.get
        assert endpoint is not None  # the settings validators guarantee it where it is used
        variables = {"booking_id": booking_id, "timezone": self.business.timezone}
        data = await self._call(endpoint, variables,
                                not_found=f"booking {booking_id!r} not found")
        return self._booking(data, endpoint.response, "get", _Known())

    def _need(self, endpoint: Endpoint | None, op: str) -> Any:
        if endpoint is None:
            raise InvalidRequestError(f"this CRM connection has no {op} endpoint")
        return endpoint

    # -- variables ---------------------------------------------------------------------------

    def _service_vars(self, svc: Service) -> dict[str, Any]:
        return {"service": svc.id, "service_name": svc.name, "duration_minutes": svc.minutes,
                "timezone": self.business.timezone}

    def _slot_vars(self, svc: Service, start: datetime, staff: str | None) -> dict[str, Any]:
        tz = self.business.tz
        begin = start.astimezone(tz)
        finish = (start.astimezone(UTC) + svc.duration).astimezone(tz)
        return self._service_vars(svc) | {
            "start": _iso(begin), "end": _iso(finish), "start_utc": _utc(begin),
            "end_utc": _utc(finish), "date": begin.date().isoformat(),
            "end_date": finish.date().isoformat(), "staff": staff,
        }

    # -- reading answers ---------------------------------------------------------------------

    def _staff(self, item: Any, pointer: str | None, what: str) -> str | None:
        """The business's spelling of the staff member at ``pointer`` (None: anyone)."""
        value = optional(item, pointer)
        if value is None or pointer is None or not self.business.staff:
            return None
        text = " ".join(as_text(value, pointer, what).split())
        for member in self.business.staff_members:
            if member.casefold() == text.casefold():
                return member
        return text

    def _busy(self, data: Any, mapping: BusyMapping) -> dict[str, list[Interval]]:
        tz = self.business.tz
        members = self.business.staff_members
        busy: dict[str, list[Interval]] = {m: [] for m in members}
        for i, item in enumerate(as_list(data, mapping.busy_pointer, "availability")):
            what = f"availability item {i}"
            begin, finish = (
                as_datetime(required(item, p, what), p, what, tz).astimezone(UTC)
                for p in (mapping.busy_start_pointer, mapping.busy_end_pointer)
            )
            staff = self._staff(item, mapping.busy_staff_pointer, what)
            for member in members if staff is None else [staff]:
                if member in busy:  # someone the business doesn't list: not ours to book
                    busy[member].append((begin, finish))
        return busy

    def _service_of(self, value: Any, pointer: str, what: str) -> str:
        wanted = as_text(value, pointer, what).strip().casefold()
        for svc in self.business.services:
            if wanted in {t.casefold() for t in (svc.id, svc.name, *svc.aliases)}:
                return svc.id
        raise _UnknownServiceError(f"{what}: value at {pointer!r} is not a service of "
                                   f"{self.business.name}")

    def _booking(self, data: Any, mapping: BookingFields, what: str, known: _Known) -> Booking:
        tz = self.business.tz
        item = required(data, mapping.booking_pointer, what) \
            if isinstance(mapping, BookingMapping) else data
        booking_id = as_text(required(item, mapping.id_pointer, what), mapping.id_pointer, what)

        def read(pointer: str | None, convert: Any, default: Any) -> Any:
            value = optional(item, pointer)
            return default if value is None else convert(value, pointer, what)

        service = read(mapping.service_pointer, self._service_of, known.service)
        start = read(mapping.start_pointer, lambda v, p, w: as_datetime(v, p, w, tz), known.start)
        if service is None or start is None:
            missing = "service" if service is None else "start"
            raise MalformedResponseError(f"{what}: answer does not say the booking's {missing}")
        duration = self.business.service(service).duration
        same_start = known.end is not None and start == known.start
        end = read(mapping.end_pointer, lambda v, p, w: as_datetime(v, p, w, tz),
                   known.end if same_start else start.astimezone(UTC) + duration)
        status = known.status
        raw_status = optional(item, mapping.status_pointer)
        if raw_status is not None:
            cancelled = {v.casefold() for v in mapping.cancelled_values}
            status = CANCELLED if str(raw_status).casefold() in cancelled else BOOKED
        staff = self._staff(item, mapping.staff_pointer, what)
        return Booking(
            id=booking_id,
            business=self.business.name,
            service=service,
            start=start.astimezone(tz),
            end=end.astimezone(tz),
            name=read(mapping.name_pointer, as_text, known.name),
            phone=read(mapping.phone_pointer, as_text, known.phone),
            staff=staff if staff is not None else known.staff,
            status=status,
        )

    def _unmapped(self, booking_id: str, known: _Known, what: str) -> Booking:
        """The booking from what we know, for an answer we were told to ignore."""
        return self._booking({"id": booking_id}, _ID_ONLY, what, known)

    @staticmethod
    def _known(booking: Booking, **changes: Any) -> _Known:
        known = _Known(status=booking.status, service=booking.service, start=booking.start,
                       end=booking.end, name=booking.name, phone=booking.phone,
                       staff=booking.staff)
        return dataclasses.replace(known, **changes)


def _build(ctx: BuildContext, settings: WebhookSettings, secrets: WebhookSecrets) -> Any:
    return WebhookConnector(business=ctx.business, settings=settings, secrets=secrets,
                            transport=ctx.transport, timeout_s=ctx.timeout_s)


KIND = ConnectorKind(
    name="webhook",
    description="Generic JSON REST API (an in-house CRM): URLs, an auth header and a mapping",
    settings_model=WebhookSettings,
    secrets_model=WebhookSecrets,
    build=_build,
)
