"""Google Calendar (API v3) connector: one Google calendar per staff member.

Shapes as in Google's Calendar API v3 reference (developers.google.com/calendar/api/v3):
``POST /freeBusy`` ``{timeMin, timeMax, timeZone, items: [{id}]}`` answers ``{"calendars":
{id: {"busy": [{start, end}], "errors": [{domain, reason}]}}}``; ``POST /calendars/{id}/events``
takes a client-chosen event ``id`` (base32hex ``0-9a-v``, 5-1024 characters, unique per calendar,
a duplicate answers 409 - deleted events keep theirs), ``start``/``end`` ``{dateTime, timeZone}``
and ``extendedProperties.private``; ``GET``/``PATCH``/``DELETE /calendars/{id}/events/{eventId}``
(a deleted event reads ``status: "cancelled"``, a second DELETE answers 410);
``GET /calendars/{id}/events`` filters on repeatable ``privateExtendedProperty=name=value``,
``singleEvents``, ``timeMin`` and pages by ``nextPageToken``; ``GET /calendars/{id}`` (health).

Auth (:mod:`connectors.google_auth`): a service-account key (secret ``service_account_json``,
optionally acting for a Workspace user, setting ``delegated_user``) whose access token is
refreshed before it expires and once on a 401; or a bare ``access_token`` that something else
keeps fresh (a token broker rewriting the secret), which this connector cannot refresh.

The event id is derived from the idempotency key (one per outbox intent), and a create is
conditional: ``book`` first looks the id up on every calendar of the business, and an insert
that answers 409 (the id exists: the answer of an earlier attempt was lost) is taken as
"already booked by us" only once the event's private ``va_key`` shows it is this key's. A
retried create therefore never makes a second event, on the same calendar or on another
staff member's. Google cannot refuse an overlapping insert of a *different* booking:
``book`` checks freeBusy first, which narrows but does not close the race between two
callers taking one slot at once.
Booking ids are ``"<calendar id>|<event id>"``; a reschedule stays on the same calendar.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import Field, SecretStr, field_validator, model_validator

from connectors.base import (
    BOOKED,
    CANCELLED,
    Booking,
    BookingNotFoundError,
    Capability,
    ConnectorError,
    ConnectorStatusError,
    InvalidRequestError,
    MalformedResponseError,
    Slot,
    SlotUnavailableError,
    clean_name,
    clean_phone,
)
from connectors.google_auth import GoogleTokenAuth, ServiceAccountTokens, StaticToken
from connectors.http import JsonApi, JsonResponse, dig
from connectors.registry import BuildContext, ConnectorKind, StrictModel
from connectors.schedule import Business
from connectors.slots import (
    Interval,
    candidate_starts_between,
    check_bookable,
    free_slots_from_busy,
    require_service,
    resolve_staff,
)

__all__ = ["KIND", "GoogleCalendarConnector", "GoogleCalendarSecrets", "GoogleCalendarSettings",
           "event_id_for"]

_MAX_PAGES = 20


class GoogleCalendarSettings(StrictModel):
    base_url: str = Field(default="https://www.googleapis.com/calendar/v3",
                          pattern=r"^https?://\S+$")
    calendars: dict[str, str] = Field(default_factory=dict)  # staff member -> calendar id
    calendar_id: str | None = Field(default=None, min_length=1)  # everyone else's calendar
    # domain-wide delegation: the service account acts as this Workspace user
    delegated_user: str | None = Field(default=None, min_length=3)


class GoogleCalendarSecrets(StrictModel):
    """Exactly one of: a service-account key file's JSON (refreshed by us), or an access
    token refreshed by someone else."""

    access_token: SecretStr | None = Field(default=None, min_length=1)
    service_account_json: SecretStr | None = Field(default=None, min_length=2)

    @field_validator("service_account_json", mode="before")
    @classmethod
    def _key_file_as_given(cls, value: Any) -> Any:
        """The key file's JSON as a string, or as the object itself (``--secrets-file``)."""
        return json.dumps(value) if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _one_credential(self) -> GoogleCalendarSecrets:
        if (self.access_token is None) == (self.service_account_json is None):
            raise ValueError("give exactly one of access_token or service_account_json")
        return self


def event_id_for(business: str, key: str) -> str:
    """The event id for an idempotency key: sha256 in base32hex (``0-9a-v``), 52 characters."""
    digest = hashlib.sha256(f"{business}\x00{key}".encode()).digest()
    return base64.b32hexencode(digest).decode("ascii").rstrip("=").lower()


def _parse_dt(value: Any, what: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise MalformedResponseError(f"{what}: unreadable datetime") from None
    if parsed.tzinfo is None:
        raise MalformedResponseError(f"{what}: datetime without an offset")
    return parsed


def _minus(busy: Sequence[Interval], own: Interval) -> list[Interval]:
    """Busy intervals with ``own`` cut out (freeBusy merges adjacent events into one block)."""
    out: list[Interval] = []
    for begin, end in busy:
        out += [(begin, min(end, own[0])), (max(begin, own[1]), end)]
    return [(b, e) for b, e in out if b < e]


class GoogleCalendarConnector:
    capabilities: frozenset[Capability] = frozenset(Capability)

    def __init__(
        self,
        *,
        business: Business,
        settings: GoogleCalendarSettings,
        secrets: GoogleCalendarSecrets,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        members = business.staff_members
        unknown = [m for m in settings.calendars if m not in members]
        if unknown:
            raise InvalidRequestError(f"google calendar settings name unknown staff member(s) "
                                      f"{', '.join(unknown)} of {business.name}")
        self.calendar_of: dict[str, str] = {}
        for member in members:
            calendar = settings.calendars.get(member, settings.calendar_id)
            if calendar is None:
                raise InvalidRequestError(f"google calendar settings give staff member "
                                          f"{member!r} of {business.name} no calendar")
            self.calendar_of[member] = calendar
        self.business = business
        self.settings = settings
        if secrets.service_account_json is not None:
            tokens: StaticToken | ServiceAccountTokens = ServiceAccountTokens(
                secrets.service_account_json.get_secret_value(),
                subject=settings.delegated_user, timeout_s=timeout_s)
        else:
            assert secrets.access_token is not None
            tokens = StaticToken(secrets.access_token.get_secret_value())
        self.tokens = tokens
        self._api = JsonApi(
            provider="google calendar",
            base_url=settings.base_url,
            auth=GoogleTokenAuth(tokens),
            timeout_s=timeout_s,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._api.aclose()

    @property
    def _calendars(self) -> list[str]:
        return list(dict.fromkeys(self.calendar_of.values()))

    # -- Connector protocol ------------------------------------------------------------------

    async def list_free_slots(self, *, service: str, start: datetime, end: datetime,
                              staff: str | None = None) -> list[Slot]:
        svc = require_service(self.business, service)
        starts = candidate_starts_between(self.business, svc.id, start, end)
        if not starts:
            return []
        busy = await self._busy(self._calendars, starts[0], starts[-1] + svc.duration)
        by_member = {m: busy[c] for m, c in self.calendar_of.items()}
        return free_slots_from_busy(self.business, svc.id, start, end, by_member, staff)

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
        candidates = resolve_staff(self.business, staff)
        name, phone = clean_name(name), clean_phone(phone)
        if not name or not phone:
            raise InvalidRequestError("a booking needs the caller's name and phone number")
        event_id = event_id_for(self.business.name, idempotency_key)
        begin, finish = start.astimezone(UTC), start.astimezone(UTC) + svc.duration
        # The create is conditional on this key having no event yet, on *any* of the
        # business's calendars: a retry whose first attempt landed on another staff member's
        # calendar (its answer lost, that member busy then and free now) must find it there,
        # not book a second one. Looked up alongside the freeBusy query, not after it.
        busy, *earlier = await asyncio.gather(
            self._busy([self.calendar_of[m] for m in candidates], begin, finish),
            *(self._event(c, event_id) for c in self._calendars))
        for calendar, existing in zip(self._calendars, earlier, strict=True):
            if existing is not None:
                return self._ours(calendar, existing, idempotency_key)
        for member in candidates:
            calendar = self.calendar_of[member]
            if any(b < finish and begin < e for b, e in busy[calendar]):
                continue
            body = {
                "id": event_id,
                "summary": f"{svc.name} – {name}",
                "start": self._when(begin),
                "end": self._when(finish),
                "extendedProperties": {"private": {
                    "va_business": self.business.name, "va_phone": phone, "va_name": name,
                    "va_service": svc.id, "va_staff": member, "va_key": idempotency_key,
                }},
            }
            resp = await self._request("POST", f"{self._path(calendar)}/events", json_body=body,
                                       ok_statuses=(409,))
            if resp.status_code == 409:  # the id exists: booked by us meanwhile (a retry)?
                existing = await self._event(calendar, event_id)
                if existing is None:  # 409 for an id nobody can read: not ours to claim
                    raise ConnectorError("google calendar answered 409 for an event it "
                                         "cannot show", retryable=True)
                return self._ours(calendar, existing, idempotency_key)
            return self._require(calendar, resp.data)
        when = start.astimezone(self.business.tz).strftime("%A %d %B at %H:%M")
        who = candidates[0] if self.business.staff and len(candidates) == 1 else None
        raise SlotUnavailableError(f"{who} is already booked for a {svc.name} on {when}" if who
                                   else f"there is no free slot for a {svc.name} on {when}")

    async def cancel(self, booking_id: str) -> Booking:
        calendar, event_id = self._split(booking_id)
        current = await self._get(booking_id)
        if not current.active:
            return current
        try:
            await self._request("DELETE", f"{self._path(calendar)}/events/{event_id}")
        except ConnectorStatusError as exc:
            if exc.status_code not in (404, 410):
                raise
            again = await self._get(booking_id)  # gone meanwhile: fine if it is cancelled
            if again.active:
                raise BookingNotFoundError(f"no booking {booking_id!r}") from None
            return again
        return dataclasses.replace(current, status=CANCELLED)

    async def reschedule(self, booking_id: str, new_start: datetime) -> Booking:
        calendar, event_id = self._split(booking_id)
        current = await self._get(booking_id)
        if not current.active:
            raise BookingNotFoundError(f"booking {booking_id!r} is cancelled")
        svc = check_bookable(self.business, current.service, new_start)
        begin = new_start.astimezone(UTC)
        if begin == current.start.astimezone(UTC):
            return current
        finish = begin + svc.duration
        own = (current.start.astimezone(UTC), current.end.astimezone(UTC))
        busy = _minus((await self._busy([calendar], begin, finish))[calendar], own)
        if any(b < finish and begin < e for b, e in busy):
            when = new_start.astimezone(self.business.tz).strftime("%A %d %B at %H:%M")
            raise SlotUnavailableError(f"there is no free slot for a {svc.name} on {when}")
        body = {"start": self._when(begin), "end": self._when(finish)}
        resp = await self._request("PATCH", f"{self._path(calendar)}/events/{event_id}",
                                   json_body=body)
        return self._require(calendar, resp.data)

    async def find_bookings(
        self, *, phone: str | None = None, name: str | None = None
    ) -> list[Booking]:
        if phone is None and name is None:
            raise ValueError("find_bookings needs a phone number or a name")
        filters = [f"va_business={self.business.name}"]
        if phone is not None:
            filters.append(f"va_phone={clean_phone(phone)}")
        wanted = clean_name(name).casefold() if name is not None else None
        found: list[Booking] = []
        for calendar in self._calendars:
            for event in await self._list(calendar, filters):
                booking = self._to_booking(calendar, event)
                if booking is None or not booking.active:
                    continue
                if wanted is None or booking.name.casefold() == wanted:
                    found.append(booking)
        return sorted(found, key=lambda b: b.start)

    async def health_check(self) -> None:
        for calendar in self._calendars:
            resp = await self._request("GET", self._path(calendar))
            dig(resp.data, "id", what="google calendar")

    # -- helpers -----------------------------------------------------------------------------

    async def _request(self, method: str, url: str, **kw: Any) -> JsonResponse:
        try:
            return await self._api.request(method, url, **kw)
        except ConnectorStatusError as exc:
            # Google reports quota exhaustion as 403 rateLimitExceeded / userRateLimitExceeded
            if exc.status_code == 403 and "ratelimitexceeded" in str(exc.body).casefold():
                exc.retryable = True
            raise

    @staticmethod
    def _path(calendar: str) -> str:
        return f"/calendars/{quote(calendar, safe='')}"

    def _split(self, booking_id: str) -> tuple[str, str]:
        calendar, _, event_id = booking_id.rpartition("|")
        if calendar not in self._calendars or not re.fullmatch(r"[a-v0-9]{5,1024}", event_id):
            raise BookingNotFoundError(f"no booking {booking_id!r}")
        return calendar, event_id

    def _when(self, value: datetime) -> dict[str, str]:
        local = value.astimezone(self.business.tz)
        return {"dateTime": local.isoformat(), "timeZone": self.business.timezone}

    async def _busy(
        self, calendars: list[str], begin: datetime, end: datetime
    ) -> dict[str, list[Interval]]:
        """Busy intervals by calendar (freeBusy: one request for all of them)."""
        what = "google calendar freeBusy"
        unique = list(dict.fromkeys(calendars))
        resp = await self._request("POST", "/freeBusy", json_body={
            "timeMin": begin.astimezone(UTC).isoformat(),
            "timeMax": end.astimezone(UTC).isoformat(),
            "timeZone": self.business.timezone, "items": [{"id": c} for c in unique]})
        busy: dict[str, list[Interval]] = {}
        for calendar in unique:
            entry = dig(resp.data, "calendars", calendar, what=what)
            if not isinstance(entry, dict) or not isinstance(entry.get("busy", []), list):
                raise MalformedResponseError(f"{what}: unreadable entry for a calendar")
            if entry.get("errors"):
                reasons = ", ".join(str(e.get("reason", "?")) if isinstance(e, dict) else "?"
                                    for e in entry["errors"])
                raise ConnectorError(f"{what}: calendar {calendar!r} can't be read ({reasons})")
            busy[calendar] = [(_parse_dt(dig(b, "start", what=what), what),
                               _parse_dt(dig(b, "end", what=what), what))
                              for b in entry.get("busy", [])]
        return busy

    async def _event(self, calendar: str, event_id: str) -> Any | None:
        try:
            resp = await self._request("GET", f"{self._path(calendar)}/events/{event_id}")
        except ConnectorStatusError as exc:
            if exc.status_code in (404, 410):
                return None
            raise
        return resp.data

    async def _get(self, booking_id: str) -> Booking:
        calendar, event_id = self._split(booking_id)
        event = await self._event(calendar, event_id)
        if event is None:
            raise BookingNotFoundError(f"no booking {booking_id!r}")
        return self._require(calendar, event, booking_id)

    async def _list(self, calendar: str, filters: list[str]) -> list[Any]:
        what = "google calendar events"
        now = datetime.now(UTC).replace(microsecond=0).isoformat()
        params: dict[str, Any] = {"privateExtendedProperty": filters, "singleEvents": "true",
                                  "orderBy": "startTime", "timeMin": now, "maxResults": 250}
        items: list[Any] = []
        for _ in range(_MAX_PAGES):
            resp = await self._request("GET", f"{self._path(calendar)}/events", params=params)
            page = dig(resp.data, "items", what=what)
            if not isinstance(page, list):
                raise MalformedResponseError(f"{what}: 'items' is not a list")
            items += page
            token = resp.data.get("nextPageToken")
            if not token:
                break
            params["pageToken"] = token
        return items

    def _ours(self, calendar: str, event: Any, idempotency_key: str) -> Booking:
        """An event holding this key's id is the booking this key made: verified by its
        private properties (business and key), never assumed from the id alone."""
        props = (event.get("extendedProperties") or {}).get("private") or {}
        if props.get("va_key") != idempotency_key:
            raise ConnectorError("google calendar: an event with this booking's id exists "
                                 "but was not made for it")
        return self._require(calendar, event)

    def _require(self, calendar: str, event: Any, booking_id: str | None = None) -> Booking:
        booking = self._to_booking(calendar, event)
        if booking is None:  # an event the agent didn't make
            raise BookingNotFoundError(f"no booking {booking_id or 'of this business'!r}")
        return booking

    def _to_booking(self, calendar: str, event: Any) -> Booking | None:
        what = "google calendar event"
        event_id = dig(event, "id", what=what)
        extended = event.get("extendedProperties")
        props = extended.get("private") if isinstance(extended, dict) else None
        if not isinstance(props, dict) or props.get("va_business") != self.business.name:
            return None
        service = props.get("va_service")
        if service not in {s.id for s in self.business.services}:
            return None
        staff = props.get("va_staff")
        if staff not in self.calendar_of:
            staff = next((m for m, c in self.calendar_of.items() if c == calendar), None)
        tz = self.business.tz
        return Booking(
            id=f"{calendar}|{event_id}",
            business=self.business.name,
            service=service,
            start=_parse_dt(dig(event, "start", "dateTime", what=what), what).astimezone(tz),
            end=_parse_dt(dig(event, "end", "dateTime", what=what), what).astimezone(tz),
            name=str(props.get("va_name", "")),
            phone=str(props.get("va_phone", "")),
            staff=staff if self.business.staff else None,
            status=CANCELLED if event.get("status") == "cancelled" else BOOKED,
        )


def _build(ctx: BuildContext, settings: Any, secrets: Any) -> GoogleCalendarConnector:
    return GoogleCalendarConnector(business=ctx.business, settings=settings, secrets=secrets,
                                   transport=ctx.transport, timeout_s=ctx.timeout_s)


KIND = ConnectorKind(
    name="google_calendar",
    description="Google Calendar (API v3): one calendar per staff member, service-account key "
                "(refreshed) or OAuth access token",
    settings_model=GoogleCalendarSettings,
    secrets_model=GoogleCalendarSecrets,
    build=_build,
)
