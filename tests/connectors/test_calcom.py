"""Contract tests for the Cal.com v2 connector against an in-memory fake of the documented API."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from pydantic import ValidationError

from connectors.base import (
    BookingNotFoundError,
    Capability,
    Connector,
    ConnectorStatusError,
    ConnectorTimeoutError,
    InvalidRequestError,
    MalformedResponseError,
    SlotUnavailableError,
)
from connectors.calcom import KIND, CalcomConnector
from connectors.registry import BuildContext, build_connector, get_kind
from connectors.resilience import ConnectOptions, ResilientConnector
from connectors.schedule import Business, load_business

NY = ZoneInfo("America/New_York")
API_KEY = "cal_live_secret_123"
EVENT_TYPES = {"haircut": 101, "color": 102, "blowdry": 103}
LENGTHS = {101: 30, 102: 90, 103: 30}
PHONE = "+1 (555) 123-4567"
CLEAN_PHONE = "+15551234567"


def sat(hour: int, minute: int = 0) -> datetime:
    """Saturday 2050-09-10 at the salon (open 10:00-16:00)."""
    return datetime(2050, 9, 10, hour, minute, tzinfo=NY)


def key() -> str:
    return uuid.uuid4().hex


def iso_ms(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds")


def zulu(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FakeCalcom:
    """Just enough of Cal.com API v2: slots, bookings (create, list, get, cancel, reschedule)."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.bookings: dict[str, dict[str, Any]] = {}
        # event type -> free start times offered by the host's availability
        self.offered: dict[int, list[datetime]] = {
            101: [sat(9), sat(10), sat(10, 15), sat(10, 30), sat(11), sat(16)],
            102: [sat(10), sat(12)],
            103: [sat(10)],
        }
        self.fail_next: list[httpx.Response] = []  # answered instead, first in first out
        self.lose_next_create = False  # create the booking but answer 503

    # -- plumbing --------------------------------------------------------------------------

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        assert request.headers["authorization"] == f"Bearer {API_KEY}"
        if self.fail_next:
            return self.fail_next.pop(0)
        path, method = request.url.path, request.method
        if path == "/v2/me":
            return self.ok({"id": 7, "email": "owner@example.com", "timeZone": "UTC"})
        assert request.headers.get("cal-api-version") == (
            "2024-09-04" if path == "/v2/slots" else "2024-08-13"
        )
        if path == "/v2/slots" and method == "GET":
            return self.slots(request)
        if path == "/v2/bookings" and method == "POST":
            return self.create(json.loads(request.content))
        if path == "/v2/bookings" and method == "GET":
            return self.list(request)
        parts = path.split("/")  # ["", "v2", "bookings", uid, action?]
        uid = parts[3]
        if uid not in self.bookings:
            return self.error(404, "NotFoundException", f"Booking with uid={uid} was not found")
        if len(parts) == 4 and method == "GET":
            return self.ok(self.bookings[uid])
        if parts[4:] == ["cancel"] and method == "POST":
            return self.cancel(uid, json.loads(request.content))
        if parts[4:] == ["reschedule"] and method == "POST":
            return self.reschedule(uid, json.loads(request.content))
        raise AssertionError(f"unexpected {method} {path}")

    @staticmethod
    def ok(data: Any, **extra: Any) -> httpx.Response:
        return httpx.Response(200, json={"status": "success", "data": data, **extra})

    @staticmethod
    def error(status: int, code: str, message: str) -> httpx.Response:
        body = {"status": "error", "timestamp": "2050-01-01T00:00:00.000Z", "path": "/v2/x",
                "error": {"code": code, "message": message}}
        return httpx.Response(status, json=body)

    def active(self) -> list[dict[str, Any]]:
        return [b for b in self.bookings.values() if b["status"] == "accepted"]

    def taken(self, event_type: int, start: datetime, ignore: str | None = None) -> bool:
        end = start + timedelta(minutes=LENGTHS[event_type])
        for b in self.active():
            b_start, b_end = datetime.fromisoformat(b["start"]), datetime.fromisoformat(b["end"])
            if b["uid"] != ignore and b_start < end and start < b_end:
                return True
        return False

    # -- endpoints -------------------------------------------------------------------------

    def slots(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        event_type = int(params["eventTypeId"])
        lo, hi = (datetime.fromisoformat(params[k]) for k in ("start", "end"))
        tz = ZoneInfo(params["timeZone"])
        days: dict[str, list[dict[str, str]]] = {}
        for start in self.offered.get(event_type, []):
            if lo <= start < hi and not self.taken(event_type, start):
                local = start.astimezone(tz)
                days.setdefault(local.date().isoformat(), []).append({"start": iso_ms(local)})
        return self.ok(days)

    def create(self, body: dict[str, Any]) -> httpx.Response:
        assert body["start"].endswith("Z")
        event_type = body["eventTypeId"]
        assert isinstance(event_type, int)
        attendee = body["attendee"]
        assert {"name", "email", "timeZone"} <= set(attendee)
        start = datetime.fromisoformat(body["start"])
        if start not in self.offered.get(event_type, []) or self.taken(event_type, start):
            return self.error(400, "BadRequestException",
                              "User either already has booking at this time or is not available")
        booking = self.new_booking(event_type, start, [dict(attendee)], body.get("metadata", {}))
        if self.lose_next_create:
            self.lose_next_create = False
            return self.error(503, "ServiceUnavailable", "upstream timeout")
        return httpx.Response(201, json={"status": "success", "data": booking})

    def new_booking(self, event_type: int, start: datetime, attendees: list[dict[str, Any]],
                    metadata: dict[str, Any]) -> dict[str, Any]:
        uid = uuid.uuid4().hex[:22]
        booking = {
            "id": len(self.bookings) + 1, "uid": uid, "title": "Appointment",
            "hosts": [{"id": 1, "name": "Owner", "email": "owner@example.com"}],
            "status": "accepted", "start": zulu(start),
            "end": zulu(start + timedelta(minutes=LENGTHS[event_type])),
            "duration": LENGTHS[event_type], "eventTypeId": event_type,
            "eventType": {"id": event_type, "slug": f"type-{event_type}"},
            "attendees": attendees, "metadata": dict(metadata),
            "createdAt": zulu(datetime.now(UTC)),
        }
        self.bookings[uid] = booking
        return booking

    def list(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        assert params["status"] == "upcoming"
        items = [b for b in self.active() if datetime.fromisoformat(b["end"]) > datetime.now(UTC)]
        if "attendeeEmail" in params:
            items = [b for b in items if b["attendees"][0]["email"] == params["attendeeEmail"]]
        if "attendeeName" in params:
            wanted = params["attendeeName"].casefold()
            items = [b for b in items if b["attendees"][0]["name"].casefold() == wanted]
        if "eventTypeIds" in params:
            wanted_ids = {int(i) for i in params["eventTypeIds"].split(",")}
            items = [b for b in items if b["eventTypeId"] in wanted_ids]
        if "afterStart" in params:
            after = datetime.fromisoformat(params["afterStart"])
            items = [b for b in items if datetime.fromisoformat(b["start"]) >= after]
        take, skip = int(params.get("take", 100)), int(params.get("skip", 0))
        page = items[skip:skip + take]
        pagination = {"totalItems": len(items), "hasNextPage": skip + take < len(items)}
        return self.ok(page, pagination=pagination)

    def cancel(self, uid: str, body: dict[str, Any]) -> httpx.Response:
        booking = self.bookings[uid]
        if booking["status"] == "cancelled":
            return self.error(400, "BadRequestException", "This booking has already been "
                                                          "cancelled.")
        booking["status"] = "cancelled"
        booking["cancellationReason"] = body.get("cancellationReason")
        return self.ok(booking)

    def reschedule(self, uid: str, body: dict[str, Any]) -> httpx.Response:
        old = self.bookings[uid]
        assert body["start"].endswith("Z") and "reschedulingReason" in body
        start = datetime.fromisoformat(body["start"])
        event_type = old["eventTypeId"]
        if start not in self.offered[event_type] or self.taken(event_type, start, ignore=uid):
            return self.error(400, "BadRequestException",
                              "User either already has booking at this time or is not available")
        new = self.new_booking(event_type, start, old["attendees"], old["metadata"])
        new["rescheduledFromUid"] = uid
        old["status"], old["rescheduledToUid"] = "cancelled", new["uid"]
        return httpx.Response(201, json={"status": "success", "data": new})


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def salon() -> Business:
    return load_business("businesses/demo-salon.yaml")


@pytest.fixture
def fake() -> FakeCalcom:
    return FakeCalcom()


@pytest.fixture
async def cal(salon: Business, fake: FakeCalcom) -> AsyncIterator[Callable[..., CalcomConnector]]:
    """``cal(handler=None, business=salon, **settings)`` builds a connector through ``KIND``."""
    made: list[CalcomConnector] = []

    def _make(handler: Any = None, business: Business = salon, **settings: Any) -> CalcomConnector:
        parsed_settings, parsed_secrets = KIND.validate(
            {"event_types": EVENT_TYPES, **settings}, {"api_key": API_KEY}
        )
        transport = httpx.MockTransport(handler or fake.handler)
        ctx = BuildContext(business=business, transport=transport)
        connector = KIND.build(ctx, parsed_settings, parsed_secrets)
        assert isinstance(connector, CalcomConnector)
        made.append(connector)
        return connector

    yield _make
    for connector in made:
        await connector.aclose()


def posts(fake: FakeCalcom, path: str = "/v2/bookings") -> list[httpx.Request]:
    return [r for r in fake.requests if r.method == "POST" and r.url.path == path]


# -- availability --------------------------------------------------------------------------


async def test_protocol_and_capabilities(cal: Any) -> None:
    connector = cal()
    assert isinstance(connector, Connector)
    assert connector.capabilities == frozenset(Capability)


async def test_slots_are_intersected_with_business_hours(cal: Any, fake: FakeCalcom) -> None:
    slots = await cal().list_free_slots(service="haircut", start=sat(0), end=sat(23))
    # 09:00 is before opening, 10:15 is off the 30-minute grid, 16:00 is at closing: dropped
    assert [s.start for s in slots] == [sat(10), sat(10, 30), sat(11)]
    assert all(s.start.tzinfo == NY and s.end - s.start == timedelta(minutes=30) for s in slots)
    assert all(s.staff is None for s in slots)  # two staff members, the event type picks
    (request,) = fake.requests
    assert request.headers["cal-api-version"] == "2024-09-04"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    params = request.url.params
    assert params["eventTypeId"] == "101"
    assert params["timeZone"] == "America/New_York"
    assert datetime.fromisoformat(params["start"]) == sat(0)
    assert datetime.fromisoformat(params["end"]) == sat(23)


async def test_slots_name_the_only_staff_member(cal: Any, salon: Business) -> None:
    solo = salon.model_copy(update={"staff": ["Maria"]})
    slots = await cal(business=solo).list_free_slots(service="color", start=sat(0), end=sat(23))
    assert [(s.start, s.end, s.staff) for s in slots] == [
        (sat(10), sat(11, 30), "Maria"), (sat(12), sat(13, 30), "Maria")]


# -- booking -------------------------------------------------------------------------------


async def test_book_happy_path(cal: Any, fake: FakeCalcom) -> None:
    booking = await cal().book(service="haircut", start=sat(10, 30), name="  Ann   Lee ",
                               phone=PHONE, idempotency_key="k-1")
    assert booking.business == "demo-salon" and booking.service == "haircut"
    assert (booking.start, booking.end) == (sat(10, 30), sat(11))
    assert booking.start.tzinfo == NY
    assert (booking.name, booking.phone, booking.status) == ("Ann Lee", CLEAN_PHONE, "booked")
    assert booking.id in fake.bookings
    (post,) = posts(fake)
    assert post.headers["cal-api-version"] == "2024-08-13"
    assert json.loads(post.content) == {
        "start": "2050-09-10T14:30:00Z",
        "eventTypeId": 101,
        "attendee": {"name": "Ann Lee", "email": "15551234567@phone.invalid",
                     "timeZone": "America/New_York", "phoneNumber": CLEAN_PHONE},
        "metadata": {"idempotencyKey": "k-1", "phone": CLEAN_PHONE, "service": "haircut"},
    }
    lookup = fake.requests[0]  # the idempotency lookup comes first
    assert lookup.method == "GET" and lookup.url.path == "/v2/bookings"
    assert lookup.url.params["attendeeEmail"] == "15551234567@phone.invalid"
    assert lookup.url.params["eventTypeIds"] == "101"


async def test_book_uses_configured_email_domain_and_skips_non_e164(
    cal: Any, fake: FakeCalcom
) -> None:
    connector = cal(attendee_email_domain="calls.example.org")
    await connector.book(service="haircut", start=sat(10), name="Bo", phone="555 0100",
                         idempotency_key=key())
    attendee = json.loads(posts(fake)[0].content)["attendee"]
    assert attendee["email"] == "5550100@calls.example.org"
    assert "phoneNumber" not in attendee


async def test_book_same_key_returns_the_same_booking(cal: Any, fake: FakeCalcom) -> None:
    connector = cal()
    first = await connector.book(service="haircut", start=sat(11), name="Ann Lee",
                                 phone=PHONE, idempotency_key="same")
    again = await connector.book(service="haircut", start=sat(11), name="Ann Lee",
                                 phone=PHONE, idempotency_key="same")
    assert again == first
    assert len(fake.bookings) == 1 and len(posts(fake)) == 1


async def test_retried_post_after_lost_answer_books_once(cal: Any, fake: FakeCalcom) -> None:
    fake.lose_next_create = True  # the booking is made, the answer is a 503
    resilient = ResilientConnector(cal(), kind="calcom",
                                   options=ConnectOptions(max_retry=2, retry_interval=0.01))
    booking = await resilient.book(service="haircut", start=sat(11), name="Ann Lee",
                                   phone=PHONE, idempotency_key="lost")
    assert len(fake.bookings) == 1 and booking.id in fake.bookings
    assert len(posts(fake)) == 1  # the retry found it by its key instead of posting again


async def test_taken_slot_raises_slot_unavailable(cal: Any, fake: FakeCalcom) -> None:
    connector = cal()
    await connector.book(service="haircut", start=sat(10), name="Ann Lee", phone=PHONE,
                         idempotency_key=key())
    with pytest.raises(SlotUnavailableError) as info:
        await connector.book(service="blowdry", start=sat(10), name="Bob Stone",
                             phone="+15559990000", idempotency_key=key())
    assert "Blow-dry" in info.value.message
    assert "Bob" not in info.value.message and "5559990000" not in info.value.message


async def test_outside_hours_is_refused_without_asking_cal_com(cal: Any, fake: FakeCalcom) -> None:
    with pytest.raises(SlotUnavailableError, match="opens at 10:00"):
        await cal().book(service="haircut", start=sat(9), name="Ann", phone=PHONE,
                         idempotency_key=key())
    with pytest.raises(InvalidRequestError):
        await cal().book(service="massage", start=sat(10), name="Ann", phone=PHONE,
                         idempotency_key=key())
    with pytest.raises(InvalidRequestError):
        await cal().book(service="haircut", start=sat(10), name="Ann", phone=PHONE,
                         staff="Nobody", idempotency_key=key())
    assert fake.requests == []


# -- reschedule / cancel -------------------------------------------------------------------


async def test_reschedule_returns_the_new_booking(cal: Any, fake: FakeCalcom) -> None:
    connector = cal()
    booking = await connector.book(service="haircut", start=sat(10), name="Ann Lee",
                                   phone=PHONE, idempotency_key=key())
    moved = await connector.reschedule(booking.id, sat(11))
    assert moved.id != booking.id and (moved.start, moved.end) == (sat(11), sat(11, 30))
    assert (moved.name, moved.phone, moved.service, moved.status) == (
        "Ann Lee", CLEAN_PHONE, "haircut", "booked")
    (post,) = posts(fake, f"/v2/bookings/{booking.id}/reschedule")
    assert post.headers["cal-api-version"] == "2024-08-13"
    assert json.loads(post.content)["start"] == "2050-09-10T15:00:00Z"
    assert fake.bookings[booking.id]["status"] == "cancelled"
    # a retry of the same reschedule lands on the booking it already moved to
    assert await connector.reschedule(booking.id, sat(11)) == moved
    # the same start again changes nothing
    assert await connector.reschedule(moved.id, sat(11)) == moved


async def test_reschedule_into_a_taken_or_closed_slot(cal: Any) -> None:
    connector = cal()
    first = await connector.book(service="haircut", start=sat(10), name="Ann", phone=PHONE,
                                 idempotency_key=key())
    await connector.book(service="haircut", start=sat(11), name="Bob", phone="+15550001111",
                         idempotency_key=key())
    with pytest.raises(SlotUnavailableError):
        await connector.reschedule(first.id, sat(11))
    with pytest.raises(SlotUnavailableError, match="closing"):
        await connector.reschedule(first.id, sat(15, 45))
    with pytest.raises(BookingNotFoundError):
        await connector.reschedule("no-such-uid", sat(11))


async def test_cancel(cal: Any, fake: FakeCalcom) -> None:
    connector = cal()
    booking = await connector.book(service="haircut", start=sat(10), name="Ann", phone=PHONE,
                                   idempotency_key=key())
    cancelled = await connector.cancel(booking.id)
    assert cancelled.id == booking.id and cancelled.status == "cancelled"
    assert not cancelled.active
    (post,) = posts(fake, f"/v2/bookings/{booking.id}/cancel")
    assert "cancellationReason" in json.loads(post.content)
    assert (await connector.cancel(booking.id)).status == "cancelled"  # idempotent
    assert len(posts(fake, f"/v2/bookings/{booking.id}/cancel")) == 1
    with pytest.raises(BookingNotFoundError):
        await connector.cancel("missing-uid")
    with pytest.raises(BookingNotFoundError):
        await connector.cancel("../v2/me")


async def test_foreign_event_type_is_not_found(cal: Any, fake: FakeCalcom) -> None:
    other = fake.new_booking(101, sat(12), [{"name": "X", "email": "x@example.com"}], {})
    other["eventTypeId"] = 999
    with pytest.raises(BookingNotFoundError):
        await cal().cancel(other["uid"])


# -- find ----------------------------------------------------------------------------------


async def test_find_by_phone_and_by_name(cal: Any, fake: FakeCalcom) -> None:
    connector = cal()
    ann = await connector.book(service="haircut", start=sat(10), name="Ann Lee", phone=PHONE,
                               idempotency_key=key())
    bob = await connector.book(service="color", start=sat(12), name="Bob Stone",
                               phone="+15550001111", idempotency_key=key())
    gone = await connector.book(service="haircut", start=sat(11), name="Ann Lee", phone=PHONE,
                                idempotency_key=key())
    await connector.cancel(gone.id)
    fake.requests.clear()
    assert await connector.find_bookings(phone="+1 555 123 4567") == [ann]
    (request,) = fake.requests
    params = request.url.params
    assert params["status"] == "upcoming" and params["eventTypeIds"] == "101,102,103"
    assert params["attendeeEmail"] == "15551234567@phone.invalid" and "afterStart" in params
    assert await connector.find_bookings(name="bob  STONE") == [bob]
    assert await connector.find_bookings(phone=PHONE, name="Bob Stone") == []
    assert await connector.find_bookings(phone="+19999999999") == []
    with pytest.raises(ValueError):
        await connector.find_bookings()


async def test_find_follows_pagination(cal: Any, fake: FakeCalcom) -> None:
    connector = cal()
    for hour in (10, 11, 12, 13):
        fake.offered[101].append(sat(hour))
        await connector.book(service="haircut", start=sat(hour), name="Ann Lee",
                             phone=PHONE, idempotency_key=key())

    def small_pages(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/bookings" and request.method == "GET":
            params = dict(request.url.params)
            take = 2
            skip = int(params["skip"]) // 100 * take
            request = httpx.Request("GET", request.url.copy_merge_params(
                {"take": take, "skip": skip}), headers=request.headers)
        return fake.handler(request)

    found = await cal(handler=small_pages).find_bookings(phone=PHONE)
    assert [b.start for b in found] == [sat(10), sat(11), sat(12), sat(13)]


# -- health and errors ---------------------------------------------------------------------


async def test_health_check(cal: Any, fake: FakeCalcom) -> None:
    await cal().health_check()
    assert [r.url.path for r in fake.requests] == ["/v2/me"]


async def test_401_is_not_retryable_and_hides_the_key(cal: Any, fake: FakeCalcom) -> None:
    fake.fail_next.append(FakeCalcom.error(401, "UnauthorizedException", "Invalid API key"))
    with pytest.raises(ConnectorStatusError) as info:
        await cal().health_check()
    assert info.value.status_code == 401 and not info.value.retryable
    assert API_KEY not in str(info.value)


async def test_429_is_retryable_with_retry_after(cal: Any, fake: FakeCalcom) -> None:
    reset = int(time.time()) + 30
    fake.fail_next.append(httpx.Response(
        429, json={"status": "error", "error": {"code": "TooManyRequestsException"}},
        headers={"X-RateLimit-Limit": "120", "X-RateLimit-Remaining": "0",
                 "X-RateLimit-Reset": str(reset)}))
    with pytest.raises(ConnectorStatusError) as info:
        await cal().list_free_slots(service="haircut", start=sat(0), end=sat(23))
    assert info.value.retryable and info.value.status_code == 429
    assert info.value.retry_after is not None and 25 <= info.value.retry_after <= 30
    fake.fail_next.append(httpx.Response(429, headers={"Retry-After": "7"}))
    with pytest.raises(ConnectorStatusError) as info:
        await cal().health_check()
    assert info.value.retry_after == 7


async def test_5xx_is_retryable(cal: Any, fake: FakeCalcom) -> None:
    fake.fail_next.append(httpx.Response(502, text="<html>Bad gateway</html>"))
    with pytest.raises(ConnectorStatusError) as info:
        await cal().list_free_slots(service="haircut", start=sat(0), end=sat(23))
    assert info.value.retryable and info.value.status_code == 502


async def test_html_200_is_malformed(cal: Any, fake: FakeCalcom) -> None:
    fake.fail_next.append(httpx.Response(200, text="<html>login</html>",
                                         headers={"content-type": "text/html"}))
    with pytest.raises(MalformedResponseError):
        await cal().list_free_slots(service="haircut", start=sat(0), end=sat(23))


@pytest.mark.parametrize("body", [
    {"status": "success"},
    {"status": "success", "data": {"2050-09-10": [{"time": "10:00"}]}},
    {"status": "success", "data": {"2050-09-10": [{"start": "2050-09-10T10:00:00"}]}},
    {"status": "success", "data": ["2050-09-10T10:00:00Z"]},
])
async def test_slots_missing_fields_are_malformed(cal: Any, fake: FakeCalcom, body: Any) -> None:
    fake.fail_next.append(httpx.Response(200, json=body))
    with pytest.raises(MalformedResponseError):
        await cal().list_free_slots(service="haircut", start=sat(0), end=sat(23))


async def test_booking_missing_fields_is_malformed(cal: Any, fake: FakeCalcom) -> None:
    connector = cal()
    fake.fail_next += [FakeCalcom.ok([]), httpx.Response(201, json={
        "status": "success", "data": {"id": 1, "eventTypeId": 101, "status": "accepted"}})]
    with pytest.raises(MalformedResponseError):
        await connector.book(service="haircut", start=sat(10), name="Ann", phone=PHONE,
                             idempotency_key=key())


async def test_hanging_provider_times_out_quickly(cal: Any) -> None:
    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(10)
        raise AssertionError("unreachable")

    resilient = ResilientConnector(cal(handler=hang), kind="calcom", options=ConnectOptions(
        timeout=0.2, max_retry=1, retry_interval=0.01))
    started = time.monotonic()
    with pytest.raises(ConnectorTimeoutError):
        await resilient.list_free_slots(service="haircut", start=sat(0), end=sat(23))
    assert time.monotonic() - started < 2


async def test_5xx_then_success_through_retries(cal: Any, fake: FakeCalcom) -> None:
    fake.fail_next += [httpx.Response(503), httpx.Response(500, json={"status": "error"})]
    resilient = ResilientConnector(cal(), kind="calcom", options=ConnectOptions(
        max_retry=2, retry_interval=0.01))
    slots = await resilient.list_free_slots(service="haircut", start=sat(0), end=sat(23))
    assert [s.start for s in slots] == [sat(10), sat(10, 30), sat(11)]
    assert len(fake.requests) == 3


# -- configuration -------------------------------------------------------------------------


def test_settings_refuse_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="colour_mode"):
        KIND.validate({"event_types": EVENT_TYPES, "colour_mode": 1}, {"api_key": "k"})
    with pytest.raises(ValidationError, match="event_types"):
        KIND.validate({}, {"api_key": "k"})
    with pytest.raises(ValidationError, match="event_types"):
        KIND.validate({"event_types": {"haircut": "abc"}}, {"api_key": "k"})
    with pytest.raises(ValidationError, match="api_key"):
        KIND.validate({"event_types": EVENT_TYPES}, {})
    with pytest.raises(ValidationError, match="token"):
        KIND.validate({"event_types": EVENT_TYPES}, {"api_key": "k", "token": "x"})


def test_secret_is_not_shown() -> None:
    _, secrets = KIND.validate({"event_types": EVENT_TYPES}, {"api_key": API_KEY})
    assert API_KEY not in repr(secrets) and API_KEY not in str(secrets)


async def test_every_service_must_be_mapped(salon: Business) -> None:
    assert get_kind("calcom") is KIND
    ctx = BuildContext(business=salon, transport=httpx.MockTransport(FakeCalcom().handler))
    with pytest.raises(InvalidRequestError, match="blowdry"):
        build_connector("calcom", ctx, {"event_types": {"haircut": 1, "color": 2}},
                        {"api_key": "k"})
    connector = build_connector("calcom", ctx, {"event_types": EVENT_TYPES}, {"api_key": API_KEY})
    assert isinstance(connector, CalcomConnector)
    await connector.aclose()
