"""Contract tests for the Google Calendar v3 connector against an in-memory fake of the
documented API (freeBusy, events insert/get/patch/delete/list, calendars get)."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from pydantic import ValidationError

from connectors.base import (
    BookingNotFoundError,
    Capability,
    Connector,
    ConnectorError,
    ConnectorStatusError,
    ConnectorTimeoutError,
    InvalidRequestError,
    MalformedResponseError,
    SlotUnavailableError,
)
from connectors.google_calendar import KIND, GoogleCalendarConnector, event_id_for
from connectors.registry import BuildContext, build_connector, get_kind
from connectors.resilience import ConnectOptions, ResilientConnector
from connectors.schedule import IMPLICIT_STAFF, Business, load_business

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
TOKEN = "ya29.secret-access-token"
MARIA, TOM = "maria@salon.example", "tom@salon.example"
CALENDARS = {"Maria": MARIA, "Tom": TOM}
PHONE = "+1 (555) 123-4567"
CLEAN_PHONE = "+15551234567"
EVENT_ID = re.compile(r"^[a-v0-9]{26,1024}$")


def sat(hour: int, minute: int = 0) -> datetime:
    """Saturday 2050-09-10 at the salon (open 10:00-16:00)."""
    return datetime(2050, 9, 10, hour, minute, tzinfo=NY)


def key() -> str:
    return uuid.uuid4().hex


def rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def google_error(status: int, reason: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {
        "code": status, "message": message,
        "errors": [{"domain": "global", "reason": reason, "message": message}]}})


class FakeGoogle:
    """Calendars of events keyed by id, as Calendar API v3 shows them."""

    def __init__(self, calendars: list[str]) -> None:
        self.calendars: dict[str, dict[str, dict[str, Any]]] = {c: {} for c in calendars}
        self.requests: list[httpx.Request] = []
        self.fail_next: list[httpx.Response] = []
        self.page_size = 250

    def add_foreign(self, calendar: str, start: datetime, end: datetime) -> None:
        """An event somebody made by hand (no extended properties)."""
        event_id = uuid.uuid4().hex
        self.calendars[calendar][event_id] = {
            "kind": "calendar#event", "id": event_id, "status": "confirmed",
            "summary": "Lunch", "start": {"dateTime": start.isoformat()},
            "end": {"dateTime": end.isoformat()}}

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        if self.fail_next:
            return self.fail_next.pop(0)
        path, method = request.url.path, request.method
        assert path.startswith("/calendar/v3/")
        parts = path.removeprefix("/calendar/v3/").split("/")
        if parts == ["freeBusy"] and method == "POST":
            return self.free_busy(json.loads(request.content))
        assert parts[0] == "calendars"
        calendar = parts[1]
        if calendar not in self.calendars:
            return google_error(404, "notFound", "Not Found")
        events = self.calendars[calendar]
        if len(parts) == 2 and method == "GET":
            return httpx.Response(200, json={"kind": "calendar#calendar", "id": calendar,
                                              "summary": calendar, "timeZone": "UTC"})
        if len(parts) == 3 and method == "POST":
            return self.insert(events, json.loads(request.content))
        if len(parts) == 3 and method == "GET":
            return self.list(events, request.url.params)
        event = events.get(parts[3])
        if event is None:
            return google_error(404, "notFound", "Not Found")
        if method == "GET":
            return httpx.Response(200, json=event)
        if method == "DELETE":
            if event["status"] == "cancelled":
                return google_error(410, "deleted", "Resource has been deleted")
            event["status"] = "cancelled"
            return httpx.Response(204)
        if method == "PATCH":
            event.update(json.loads(request.content))
            return httpx.Response(200, json=event)
        raise AssertionError(f"unexpected {method} {path}")

    def busy(self, calendar: str) -> list[tuple[datetime, datetime]]:
        spans = sorted(
            (datetime.fromisoformat(e["start"]["dateTime"]),
             datetime.fromisoformat(e["end"]["dateTime"]))
            for e in self.calendars[calendar].values() if e["status"] != "cancelled")
        merged: list[tuple[datetime, datetime]] = []
        for start, end in spans:  # freeBusy merges touching and overlapping events
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        return merged

    def free_busy(self, body: dict[str, Any]) -> httpx.Response:
        assert {"timeMin", "timeMax", "timeZone", "items"} <= set(body)
        lo, hi = (datetime.fromisoformat(body[k]) for k in ("timeMin", "timeMax"))
        result: dict[str, Any] = {}
        for item in body["items"]:
            calendar = item["id"]
            if calendar not in self.calendars:
                result[calendar] = {"errors": [{"domain": "global", "reason": "notFound"}],
                                    "busy": []}
                continue
            result[calendar] = {"busy": [
                {"start": rfc3339(s), "end": rfc3339(e)}
                for s, e in self.busy(calendar) if s < hi and lo < e]}
        return httpx.Response(200, json={"kind": "calendar#freeBusy", "timeMin": body["timeMin"],
                                         "timeMax": body["timeMax"], "calendars": result})

    def insert(self, events: dict[str, Any], body: dict[str, Any]) -> httpx.Response:
        event_id = body.get("id") or uuid.uuid4().hex
        assert re.fullmatch(r"[a-v0-9]{5,1024}", event_id), event_id
        if event_id in events:  # deleted events keep their id too
            return google_error(409, "duplicate", "The requested identifier already exists.")
        event = {"kind": "calendar#event", "etag": '"1"', "status": "confirmed",
                 "htmlLink": "https://calendar.google.com/x", **body, "id": event_id}
        events[event_id] = event
        return httpx.Response(200, json=event)

    def list(self, events: dict[str, Any], params: httpx.QueryParams) -> httpx.Response:
        assert params["singleEvents"] == "true"
        wanted = [p.split("=", 1) for p in params.get_list("privateExtendedProperty")]
        after = datetime.fromisoformat(params["timeMin"])
        items = [
            e for e in events.values()
            if e["status"] != "cancelled"
            and datetime.fromisoformat(e["end"]["dateTime"]) > after
            and all(e.get("extendedProperties", {}).get("private", {}).get(k) == v
                    for k, v in wanted)]
        items.sort(key=lambda e: datetime.fromisoformat(e["start"]["dateTime"]))
        offset = int(params.get("pageToken", "0"))
        body: dict[str, Any] = {"kind": "calendar#events",
                                "items": items[offset:offset + self.page_size]}
        if offset + self.page_size < len(items):
            body["nextPageToken"] = str(offset + self.page_size)
        return httpx.Response(200, json=body)

    def events(self) -> list[dict[str, Any]]:
        return [e for events in self.calendars.values() for e in events.values()]

    def posted(self, suffix: str = "/events", method: str = "POST") -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path.endswith(suffix)]


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def salon() -> Business:
    return load_business("businesses/demo-salon.yaml")


@pytest.fixture
def fake() -> FakeGoogle:
    return FakeGoogle([MARIA, TOM])


@pytest.fixture
async def gcal(
    salon: Business, fake: FakeGoogle
) -> AsyncIterator[Callable[..., GoogleCalendarConnector]]:
    """``gcal(handler=None, business=salon, **settings)`` builds a connector via ``KIND``."""
    made: list[GoogleCalendarConnector] = []

    def _make(handler: Any = None, business: Business = salon,
              **settings: Any) -> GoogleCalendarConnector:
        settings = settings or {"calendars": CALENDARS}
        parsed = KIND.validate(settings, {"access_token": TOKEN})
        transport = httpx.MockTransport(handler or fake.handler)
        ctx = BuildContext(business=business, transport=transport)
        connector = KIND.build(ctx, *parsed)
        assert isinstance(connector, GoogleCalendarConnector)
        made.append(connector)
        return connector

    yield _make
    for connector in made:
        await connector.aclose()


# -- availability --------------------------------------------------------------------------


async def test_protocol_and_capabilities(gcal: Any) -> None:
    connector = gcal()
    assert isinstance(connector, Connector)
    assert connector.capabilities == frozenset(Capability)


async def test_slots_from_free_busy_within_hours(gcal: Any, fake: FakeGoogle) -> None:
    fake.add_foreign(MARIA, sat(10), sat(11))
    fake.add_foreign(TOM, sat(10), sat(10, 30))
    fake.add_foreign(TOM, sat(11), sat(16))
    fake.add_foreign(MARIA, sat(12), sat(16))
    slots = await gcal().list_free_slots(service="haircut", start=sat(0), end=sat(23))
    assert [(s.start, s.staff) for s in slots] == [
        (sat(10, 30), "Tom"), (sat(11), "Maria"), (sat(11, 30), "Maria")]
    assert all(s.start.tzinfo == NY and s.end.tzinfo == NY for s in slots)
    (request,) = fake.requests
    assert request.url.path == "/calendar/v3/freeBusy"
    body = json.loads(request.content)
    assert body["items"] == [{"id": MARIA}, {"id": TOM}]
    assert body["timeZone"] == "America/New_York"
    # asks only for opening hours: first start to the end of the last possible appointment
    assert datetime.fromisoformat(body["timeMin"]) == sat(10)
    assert datetime.fromisoformat(body["timeMax"]) == sat(16)


async def test_closed_day_asks_nothing(gcal: Any, fake: FakeGoogle) -> None:
    sunday = datetime(2050, 9, 11, tzinfo=NY)
    assert await gcal().list_free_slots(service="haircut", start=sunday,
                                        end=sunday.replace(hour=23)) == []
    assert fake.requests == []


async def test_calendar_error_in_free_busy(gcal: Any, fake: FakeGoogle) -> None:
    connector = gcal(calendars={"Maria": MARIA, "Tom": "gone@salon.example"})
    with pytest.raises(ConnectorError) as info:
        await connector.list_free_slots(service="haircut", start=sat(0), end=sat(23))
    assert not info.value.retryable
    assert "gone@salon.example" in info.value.message and "notFound" in info.value.message


# -- booking -------------------------------------------------------------------------------


async def test_book_happy_path(gcal: Any, fake: FakeGoogle) -> None:
    booking = await gcal().book(service="color", start=sat(10), name=" Ann  Lee",
                                phone=PHONE, idempotency_key="k-1")
    assert (booking.service, booking.staff, booking.status) == ("color", "Maria", "booked")
    assert (booking.start, booking.end) == (sat(10), sat(11, 30))
    assert booking.start.tzinfo == NY
    assert (booking.name, booking.phone, booking.business) == ("Ann Lee", CLEAN_PHONE,
                                                              "demo-salon")
    calendar, event_id = booking.id.split("|")
    assert calendar == MARIA and EVENT_ID.match(event_id)
    assert event_id == event_id_for("demo-salon", "k-1")
    (insert,) = fake.posted()
    assert insert.url.path == f"/calendar/v3/calendars/{MARIA}/events"
    body = json.loads(insert.content)
    assert body["id"] == event_id
    assert body["summary"] == "Hair colouring – Ann Lee"
    assert body["start"] == {"dateTime": "2050-09-10T10:00:00-04:00",
                             "timeZone": "America/New_York"}
    assert body["end"] == {"dateTime": "2050-09-10T11:30:00-04:00",
                           "timeZone": "America/New_York"}
    assert body["extendedProperties"]["private"] == {
        "va_business": "demo-salon", "va_phone": CLEAN_PHONE, "va_name": "Ann Lee",
        "va_service": "color", "va_staff": "Maria", "va_key": "k-1"}
    assert fake.requests[0].url.path.endswith("/freeBusy")  # the pre-check came first


async def test_book_named_staff_and_next_free_member(gcal: Any, fake: FakeGoogle) -> None:
    connector = gcal()
    tom = await connector.book(service="haircut", start=sat(10), name="Ann", phone=PHONE,
                               staff="tom", idempotency_key=key())
    assert tom.staff == "Tom" and tom.id.startswith(f"{TOM}|")
    fake.add_foreign(MARIA, sat(11), sat(12))
    anyone = await connector.book(service="haircut", start=sat(11), name="Bo", phone=PHONE,
                                  idempotency_key=key())
    assert anyone.staff == "Tom"


async def test_book_same_key_returns_the_same_booking(gcal: Any, fake: FakeGoogle) -> None:
    connector = gcal()
    first = await connector.book(service="haircut", start=sat(10), name="Ann", phone=PHONE,
                                 idempotency_key="same")
    again = await connector.book(service="haircut", start=sat(10), name="Ann", phone=PHONE,
                                 idempotency_key="same")
    assert again == first
    assert len(fake.events()) == 1 and len(fake.posted()) == 1


async def test_duplicate_id_on_insert_returns_the_existing_event(
    gcal: Any, fake: FakeGoogle
) -> None:
    connector = gcal()
    booking = await connector.book(service="haircut", start=sat(10), name="Ann", phone=PHONE,
                                   idempotency_key="again")
    await connector.cancel(booking.id)
    # the slot is free again, the insert answers 409 (ids outlive deletion): same booking back
    repeat = await connector.book(service="haircut", start=sat(10), name="Ann", phone=PHONE,
                                  idempotency_key="again")
    assert repeat.id == booking.id and repeat.status == "cancelled"
    assert len(fake.events()) == 1


async def test_taken_slot_raises_slot_unavailable(gcal: Any, fake: FakeGoogle) -> None:
    fake.add_foreign(MARIA, sat(10), sat(12))
    fake.add_foreign(TOM, sat(11), sat(11, 30))
    with pytest.raises(SlotUnavailableError) as info:
        await gcal().book(service="color", start=sat(10), name="Bob Stone",
                          phone="+15559990000", idempotency_key=key())
    assert "Hair colouring" in info.value.message and "Bob" not in info.value.message
    with pytest.raises(SlotUnavailableError, match="Maria is already booked"):
        await gcal().book(service="haircut", start=sat(10), name="Bob", phone=PHONE,
                          staff="Maria", idempotency_key=key())
    assert fake.posted() == []


async def test_outside_hours_is_refused_without_asking_google(gcal: Any, fake: FakeGoogle) -> None:
    with pytest.raises(SlotUnavailableError, match="closing"):
        await gcal().book(service="color", start=sat(15), name="Ann", phone=PHONE,
                          idempotency_key=key())
    with pytest.raises(InvalidRequestError):
        await gcal().book(service="haircut", start=sat(10), name="Ann", phone=PHONE,
                          staff="Nobody", idempotency_key=key())
    with pytest.raises(InvalidRequestError):
        await gcal().book(service="haircut", start=sat(10), name=" ", phone=PHONE,
                          idempotency_key=key())
    assert fake.requests == []


# -- reschedule / cancel -------------------------------------------------------------------


async def test_reschedule_ignores_its_own_interval(gcal: Any, fake: FakeGoogle) -> None:
    connector = gcal()
    booking = await connector.book(service="color", start=sat(11), name="Ann", phone=PHONE,
                                   staff="Maria", idempotency_key=key())
    fake.add_foreign(MARIA, sat(10), sat(11))  # touches the booking: freeBusy merges the two
    assert await connector.reschedule(booking.id, sat(11)) == booking  # same start: no-op
    with pytest.raises(SlotUnavailableError):
        await connector.reschedule(booking.id, sat(10, 30))  # would overlap 10:00-11:00
    moved = await connector.reschedule(booking.id, sat(11, 30))  # overlaps only itself
    assert moved.id == booking.id and (moved.start, moved.end) == (sat(11, 30), sat(13))
    assert (moved.staff, moved.name, moved.phone) == ("Maria", "Ann", CLEAN_PHONE)
    (patch,) = fake.posted(booking.id.split("|")[1], "PATCH")
    assert json.loads(patch.content) == {
        "start": {"dateTime": "2050-09-10T11:30:00-04:00", "timeZone": "America/New_York"},
        "end": {"dateTime": "2050-09-10T13:00:00-04:00", "timeZone": "America/New_York"}}
    free_busy = json.loads(fake.posted("/freeBusy")[-1].content)
    assert free_busy["items"] == [{"id": MARIA}]
    with pytest.raises(SlotUnavailableError, match="closing"):
        await connector.reschedule(booking.id, sat(15))


async def test_cancel(gcal: Any, fake: FakeGoogle) -> None:
    connector = gcal()
    booking = await connector.book(service="haircut", start=sat(10), name="Ann", phone=PHONE,
                                   idempotency_key=key())
    cancelled = await connector.cancel(booking.id)
    assert cancelled.id == booking.id and cancelled.status == "cancelled"
    assert len(fake.posted(booking.id.split("|")[1], "DELETE")) == 1
    assert (await connector.cancel(booking.id)).status == "cancelled"  # idempotent
    with pytest.raises(BookingNotFoundError):
        await connector.reschedule(booking.id, sat(11))
    with pytest.raises(BookingNotFoundError):
        await connector.cancel(f"{MARIA}|{event_id_for('demo-salon', 'never')}")
    fake.requests.clear()
    for bad in ("nonsense", f"evil@example.com|{event_id_for('x', 'y')}", f"{MARIA}|../x"):
        with pytest.raises(BookingNotFoundError):
            await connector.cancel(bad)
    assert fake.requests == []  # never sent anywhere


async def test_cancel_of_a_hand_made_event_is_refused(gcal: Any, fake: FakeGoogle) -> None:
    fake.add_foreign(MARIA, sat(10), sat(11))
    (event_id,) = fake.calendars[MARIA]
    fake.calendars[MARIA][event_id]["id"] = "abcdef0123"
    fake.calendars[MARIA]["abcdef0123"] = fake.calendars[MARIA].pop(event_id)
    with pytest.raises(BookingNotFoundError):
        await gcal().cancel(f"{MARIA}|abcdef0123")
    assert fake.posted("abcdef0123", "DELETE") == []


async def test_delete_answering_410_after_a_lost_answer(gcal: Any, fake: FakeGoogle) -> None:
    connector = gcal()
    booking = await connector.book(service="haircut", start=sat(10), name="Ann", phone=PHONE,
                                   idempotency_key=key())

    def deleted_meanwhile(request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            fake.handler(request)  # somebody else's DELETE won
        return fake.handler(request)

    cancelled = await gcal(handler=deleted_meanwhile).cancel(booking.id)
    assert cancelled.status == "cancelled"


# -- find ----------------------------------------------------------------------------------


async def test_find_by_phone_and_by_name(gcal: Any, fake: FakeGoogle) -> None:
    connector = gcal()
    ann = await connector.book(service="haircut", start=sat(10), name="Ann Lee", phone=PHONE,
                               idempotency_key=key())
    bob = await connector.book(service="color", start=sat(12), name="Bob Stone",
                               phone="+15550001111", staff="Tom", idempotency_key=key())
    gone = await connector.book(service="haircut", start=sat(11), name="Ann Lee", phone=PHONE,
                                idempotency_key=key())
    await connector.cancel(gone.id)
    fake.add_foreign(MARIA, sat(14), sat(15))
    fake.requests.clear()
    assert await connector.find_bookings(phone="+1 555 123 4567") == [ann]
    assert [r.url.path for r in fake.requests] == [
        f"/calendar/v3/calendars/{MARIA}/events", f"/calendar/v3/calendars/{TOM}/events"]
    params = fake.requests[0].url.params
    assert params.get_list("privateExtendedProperty") == ["va_business=demo-salon",
                                                          f"va_phone={CLEAN_PHONE}"]
    assert params["singleEvents"] == "true" and "timeMin" in params
    assert await connector.find_bookings(name="BOB  stone") == [bob]
    assert await connector.find_bookings(phone=PHONE, name="bob stone") == []
    with pytest.raises(ValueError):
        await connector.find_bookings()


async def test_find_follows_pages(gcal: Any, fake: FakeGoogle) -> None:
    connector = gcal()
    for hour in (10, 11, 12):
        await connector.book(service="haircut", start=sat(hour), name="Ann", phone=PHONE,
                             staff="Maria", idempotency_key=key())
    fake.page_size = 1
    found = await connector.find_bookings(phone=PHONE)
    assert [b.start for b in found] == [sat(10), sat(11), sat(12)]


# -- health and errors ---------------------------------------------------------------------


async def test_health_check(gcal: Any, fake: FakeGoogle) -> None:
    await gcal().health_check()
    assert [r.url.path for r in fake.requests] == [f"/calendar/v3/calendars/{MARIA}",
                                                   f"/calendar/v3/calendars/{TOM}"]
    with pytest.raises(ConnectorStatusError) as info:
        await gcal(calendars={"Maria": MARIA, "Tom": "gone@salon.example"}).health_check()
    assert info.value.status_code == 404


async def test_401_is_not_retryable_and_hides_the_token(gcal: Any, fake: FakeGoogle) -> None:
    fake.fail_next.append(google_error(401, "authError", "Invalid Credentials"))
    with pytest.raises(ConnectorStatusError) as info:
        await gcal().list_free_slots(service="haircut", start=sat(0), end=sat(23))
    assert info.value.status_code == 401 and not info.value.retryable
    assert TOKEN not in str(info.value)


async def test_rate_limits_are_retryable(gcal: Any, fake: FakeGoogle) -> None:
    fake.fail_next.append(google_error(429, "rateLimitExceeded", "Rate Limit Exceeded"))
    fake.fail_next[-1].headers["Retry-After"] = "3"
    with pytest.raises(ConnectorStatusError) as info:
        await gcal().health_check()
    assert info.value.retryable and info.value.retry_after == 3
    fake.fail_next.append(google_error(403, "userRateLimitExceeded", "User Rate Limit Exceeded"))
    with pytest.raises(ConnectorStatusError) as info:
        await gcal().health_check()
    assert info.value.status_code == 403 and info.value.retryable
    fake.fail_next.append(google_error(403, "forbidden", "Forbidden"))
    with pytest.raises(ConnectorStatusError) as info:
        await gcal().health_check()
    assert not info.value.retryable


async def test_5xx_is_retryable(gcal: Any, fake: FakeGoogle) -> None:
    fake.fail_next.append(google_error(503, "backendError", "Backend Error"))
    with pytest.raises(ConnectorStatusError) as info:
        await gcal().health_check()
    assert info.value.retryable


async def test_html_200_is_malformed(gcal: Any, fake: FakeGoogle) -> None:
    fake.fail_next.append(httpx.Response(200, text="<!DOCTYPE html><html>captive portal",
                                         headers={"content-type": "text/html"}))
    with pytest.raises(MalformedResponseError):
        await gcal().list_free_slots(service="haircut", start=sat(0), end=sat(23))


@pytest.mark.parametrize("body", [
    {"kind": "calendar#freeBusy"},
    {"calendars": {MARIA: {"busy": []}}},
    {"calendars": {MARIA: {"busy": [{"start": "2050-09-10T14:00:00Z"}]}, TOM: {"busy": []}}},
    {"calendars": {MARIA: {"busy": [{"start": "soon", "end": "later"}]}, TOM: {"busy": []}}},
])
async def test_free_busy_missing_fields_is_malformed(
    gcal: Any, fake: FakeGoogle, body: Any
) -> None:
    fake.fail_next.append(httpx.Response(200, json=body))
    with pytest.raises(MalformedResponseError):
        await gcal().list_free_slots(service="haircut", start=sat(0), end=sat(23))


async def test_inserted_event_missing_fields_is_malformed(gcal: Any, fake: FakeGoogle) -> None:
    def broken_insert(request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/events"):
            return httpx.Response(200, json={"kind": "calendar#event", "status": "confirmed"})
        return fake.handler(request)

    connector = gcal(handler=broken_insert)
    with pytest.raises(MalformedResponseError):
        await connector.book(service="haircut", start=sat(10), name="Ann", phone=PHONE,
                             idempotency_key=key())


async def test_hanging_provider_times_out_quickly(gcal: Any) -> None:
    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(10)
        raise AssertionError("unreachable")

    resilient = ResilientConnector(gcal(handler=hang), kind="google_calendar",
                                   options=ConnectOptions(timeout=0.2, max_retry=1,
                                                          retry_interval=0.01))
    started = time.monotonic()
    with pytest.raises(ConnectorTimeoutError):
        await resilient.list_free_slots(service="haircut", start=sat(0), end=sat(23))
    assert time.monotonic() - started < 2


async def test_5xx_then_success_through_retries(gcal: Any, fake: FakeGoogle) -> None:
    fake.fail_next += [google_error(500, "backendError", "Backend Error"),
                       httpx.Response(502, text="<html>bad gateway</html>")]
    resilient = ResilientConnector(gcal(), kind="google_calendar",
                                   options=ConnectOptions(max_retry=2, retry_interval=0.01))
    booking = await resilient.book(service="haircut", start=sat(10), name="Ann",
                                   phone=PHONE, idempotency_key=key())
    assert booking.active and len(fake.events()) == 1


# -- configuration -------------------------------------------------------------------------


def test_settings_are_validated() -> None:
    with pytest.raises(ValidationError, match="calendar_ids"):
        KIND.validate({"calendar_ids": {}}, {"access_token": "t"})
    with pytest.raises(ValidationError, match="calendars"):
        KIND.validate({"calendars": ["a", "b"]}, {"access_token": "t"})
    with pytest.raises(ValidationError, match="access_token"):
        KIND.validate({"calendar_id": "primary"}, {})
    with pytest.raises(ValidationError, match="refresh_token"):
        KIND.validate({"calendar_id": "primary"}, {"access_token": "t", "refresh_token": "r"})
    _, secrets = KIND.validate({}, {"access_token": TOKEN})
    assert TOKEN not in repr(secrets)


async def test_every_staff_member_needs_a_calendar(salon: Business) -> None:
    assert get_kind("google_calendar") is KIND
    ctx = BuildContext(business=salon, transport=httpx.MockTransport(FakeGoogle([]).handler))
    with pytest.raises(InvalidRequestError, match="Tom"):
        build_connector("google_calendar", ctx, {"calendars": {"Maria": MARIA}},
                        {"access_token": "t"})
    with pytest.raises(InvalidRequestError, match="Bob"):
        build_connector("google_calendar", ctx, {"calendars": {"Bob": MARIA}, "calendar_id": TOM},
                        {"access_token": "t"})
    connector = build_connector("google_calendar", ctx,
                                {"calendars": {"Maria": MARIA}, "calendar_id": TOM},
                                {"access_token": "t"})
    assert isinstance(connector, GoogleCalendarConnector)
    assert connector.calendar_of == {"Maria": MARIA, "Tom": TOM}
    await connector.aclose()


async def test_business_without_staff_uses_the_implicit_member(gcal: Any) -> None:
    dental = load_business("businesses/demo-dental.yaml")
    solo = dental.model_copy(update={"staff": []})
    fake = FakeGoogle(["clinic@example.com"])
    connector = gcal(handler=fake.handler, business=solo, calendar_id="clinic@example.com")
    assert connector.calendar_of == {IMPLICIT_STAFF: "clinic@example.com"}
    friday = datetime(2050, 9, 9, 9, 0, tzinfo=LONDON)  # Fridays 08:30-13:00
    slots = await connector.list_free_slots(service="checkup", start=friday,
                                            end=friday.replace(hour=10))
    assert [s.start.strftime("%H:%M") for s in slots] == ["09:00", "09:15", "09:30", "09:45"]
    assert all(s.staff is None for s in slots)
    booking = await connector.book(service="checkup", start=friday, name="Ann", phone=PHONE,
                                   idempotency_key=key())
    assert booking.staff is None and booking.start.tzinfo == LONDON


# -- conditional create: a retried create never double-books --------------------------------


def lose_first_insert_answer(fake: FakeGoogle, then: Any = None) -> Any:
    """The first insert reaches Google (the event is made) but its answer is lost (503);
    ``then`` runs right after, e.g. to change the calendars before the retry."""
    lost = []

    def handler(request: httpx.Request) -> httpx.Response:
        response = fake.handler(request)
        if request.method == "POST" and request.url.path.endswith("/events") and not lost:
            lost.append(request)
            if then is not None:
                then()
            return google_error(503, "backendError", "Backend Error")
        return response

    return handler


async def test_a_retried_create_on_another_calendar_is_not_doubled(
    gcal: Any, fake: FakeGoogle
) -> None:
    """First attempt: Maria is busy, the booking goes to Tom, the answer is lost. Before the
    retry Maria's appointment is cancelled: a check-then-insert retry would now book Maria
    too (event ids are unique per calendar only). The key's id is found on Tom's calendar."""
    fake.add_foreign(MARIA, sat(10), sat(11))
    (foreign,) = fake.calendars[MARIA].values()

    def maria_frees_up() -> None:
        foreign["status"] = "cancelled"

    resilient = ResilientConnector(
        gcal(handler=lose_first_insert_answer(fake, maria_frees_up)), kind="google_calendar",
        options=ConnectOptions(max_retry=2, retry_interval=0.01))
    booking = await resilient.book(service="haircut", start=sat(10), name="Ann", phone=PHONE,
                                   idempotency_key="retry-me")
    assert booking.staff == "Tom" and booking.id.startswith(f"{TOM}|")
    ours = [e for e in fake.events() if e.get("extendedProperties")]
    assert len(ours) == 1 and len(fake.posted()) == 1  # one insert, none on Maria's calendar


async def test_a_retried_create_answering_409_is_verified_as_ours(
    gcal: Any, fake: FakeGoogle
) -> None:
    """The event already exists when the retry inserts (made between the lookup and the
    insert): Google answers 409 and the event, read back, carries this key."""
    event_id = event_id_for("demo-salon", "raced")

    def made_meanwhile(request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/events"):
            fake.handler(request)  # the earlier attempt's insert lands first
        return fake.handler(request)

    booking = await gcal(handler=made_meanwhile).book(
        service="haircut", start=sat(10), name="Ann", phone=PHONE, idempotency_key="raced")
    assert booking.id == f"{MARIA}|{event_id}" and len(fake.events()) == 1
    assert [r.url.path for r in fake.posted()] == [f"/calendar/v3/calendars/{MARIA}/events"] * 2


async def test_an_event_with_our_id_but_another_key_is_not_taken_for_ours(
    gcal: Any, fake: FakeGoogle
) -> None:
    event_id = event_id_for("demo-salon", "mine")
    fake.calendars[TOM][event_id] = {
        "kind": "calendar#event", "id": event_id, "status": "confirmed",
        "start": {"dateTime": sat(10).isoformat()}, "end": {"dateTime": sat(10, 30).isoformat()},
        "extendedProperties": {"private": {"va_business": "demo-salon", "va_key": "other",
                                           "va_service": "haircut"}}}
    with pytest.raises(ConnectorError, match="not made for it"):
        await gcal().book(service="haircut", start=sat(10), name="Ann", phone=PHONE,
                          idempotency_key="mine")
    assert fake.posted() == []
