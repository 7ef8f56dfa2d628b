"""The CalDAV connector against a real Radicale server; what it writes is read back with an
independent CalDAV client (the ``caldav`` package), as a calendar app would see it."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import caldav
import httpx
import pytest
from icalendar import Calendar

from connectors import caldav as caldav_connector
from connectors.base import (
    BookingNotFoundError,
    ConnectorError,
    InvalidRequestError,
    SlotUnavailableError,
)
from connectors.caldav import KIND, CalDavCalendar, CalDavSecrets, CalDavSettings
from connectors.resilience import ConnectOptions, ResilientConnector
from connectors.schedule import load_business
from tests.connectors.radicale_server import Radicale, radicale_server

SALON = load_business("businesses/demo-salon.yaml")


@pytest.fixture(scope="module")
def radicale(tmp_path_factory) -> Radicale:
    with radicale_server(tmp_path_factory.mktemp("radicale")) as server:
        yield server


class Recorder(httpx.AsyncBaseTransport):
    """Passes requests to the real server and remembers them; ``before`` may act first."""

    def __init__(self, before=None) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.requests: list[httpx.Request] = []
        self.before = before

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.before is not None:
            self.before(request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
def calendars(radicale):
    tag = uuid.uuid4().hex[:8]
    return {"Maria": radicale.make_calendar(f"maria-{tag}"),
            "Tom": radicale.make_calendar(f"tom-{tag}")}


def make_connector(radicale, calendars, transport=None) -> CalDavCalendar:
    settings = CalDavSettings(staff_calendars=calendars, username=radicale.user)
    return CalDavCalendar(business=SALON, settings=settings,
                          secrets=CalDavSecrets(password=radicale.password), transport=transport)


@pytest.fixture
async def connector(radicale, calendars):
    conn = make_connector(radicale, calendars)
    yield conn
    await conn.aclose()


def client_calendar(radicale, url: str) -> caldav.Calendar:
    client = caldav.DAVClient(url=radicale.url, username=radicale.user,
                              password=radicale.password)
    return client.calendar(url=url)


def events_in(radicale, url: str) -> list:
    """Every VEVENT in a collection, read with the independent client."""
    out = []
    for obj in client_calendar(radicale, url).events():
        out += Calendar.from_ical(obj.data).walk("VEVENT")
    return out


def next_tuesday(hour: int, minute: int = 0) -> datetime:
    day = datetime.now(SALON.tz).date() + timedelta(days=1)
    while day.weekday() != 1:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SALON.tz)


def book_kwargs(start: datetime, key: str, **extra) -> dict:
    return {"service": "haircut", "start": start, "name": "Dana Smith", "phone": "+1 555 123 0001",
            "idempotency_key": key} | extra


async def test_round_trip_book_find_reschedule_cancel(radicale, calendars, connector) -> None:
    start = next_tuesday(10)
    await connector.health_check()
    free = await connector.list_free_slots(service="haircut", start=start,
                                           end=start + timedelta(hours=1))
    assert [(s.start, s.staff) for s in free] == [(start, "Maria"),
                                                  (start + timedelta(minutes=30), "Maria")]

    booking = await connector.book(**book_kwargs(start, "k-1"))
    assert (booking.staff, booking.start, booking.end) == (
        "Maria", start, start + timedelta(minutes=30))

    [event] = events_in(radicale, calendars["Maria"])
    assert str(event["summary"]) == "Haircut – Dana Smith"
    assert event.decoded("dtstart") == start.astimezone(UTC)
    assert str(event["x-va-phone"]) == "+15551230001" and str(event["uid"]) == booking.id
    assert events_in(radicale, calendars["Tom"]) == []

    free = await connector.list_free_slots(service="haircut", start=start,
                                           end=start + timedelta(minutes=30))
    assert [(s.start, s.staff) for s in free] == [(start, "Tom")]  # Maria is busy now

    assert [b.id for b in await connector.find_bookings(phone="+15551230001")] == [booking.id]
    assert [b.id for b in await connector.find_bookings(name="dana  SMITH")] == [booking.id]
    assert await connector.find_bookings(phone="+15550000000") == []

    moved = await connector.reschedule(booking.id, start + timedelta(hours=2))
    assert moved.id == booking.id and moved.start == start + timedelta(hours=2)
    [event] = events_in(radicale, calendars["Maria"])
    assert event.decoded("dtstart") == (start + timedelta(hours=2)).astimezone(UTC)
    free = await connector.list_free_slots(service="haircut", start=start,
                                           end=start + timedelta(minutes=30))
    assert [s.staff for s in free] == ["Maria"]  # the old time is free again

    cancelled = await connector.cancel(booking.id)
    assert cancelled.status == "cancelled"
    assert events_in(radicale, calendars["Maria"]) == []
    assert events_in(radicale, connector.holds) == []  # every hold released
    with pytest.raises(BookingNotFoundError):
        await connector.cancel(booking.id)


async def test_same_idempotency_key_gives_the_same_single_event(radicale, calendars,
                                                                connector) -> None:
    start = next_tuesday(11)
    first = await connector.book(**book_kwargs(start, "same-key"))
    again = await connector.book(**book_kwargs(start, "same-key"))
    assert again.id == first.id
    assert len(events_in(radicale, calendars["Maria"])) == 1
    assert events_in(radicale, calendars["Tom"]) == []


async def test_writes_are_conditional(radicale, calendars) -> None:
    recorder = Recorder()
    conn = make_connector(radicale, calendars, transport=recorder)
    try:
        booking = await conn.book(**book_kwargs(next_tuesday(12), "cond"))
        await conn.reschedule(booking.id, next_tuesday(13))
        await conn.cancel(booking.id)
    finally:
        await conn.aclose()
    event_writes = [r for r in recorder.requests if r.url.path.endswith(f"{booking.id}.ics")
                    and r.method in ("PUT", "DELETE")]
    assert [(r.method, "if-none-match" in r.headers, "if-match" in r.headers)
            for r in event_writes] == [("PUT", True, False), ("PUT", False, True),
                                      ("DELETE", False, True)]
    assert event_writes[0].headers["if-none-match"] == "*"
    hold_creates = [r for r in recorder.requests if r.method == "PUT"
                    and r.url.path.startswith(httpx.URL(conn.holds).path)]
    assert hold_creates and all(r.headers["if-none-match"] == "*" for r in hold_creates)
    assert all(r.headers["authorization"].startswith("Basic ") for r in recorder.requests)


async def test_an_edit_in_the_calendar_app_is_never_overwritten(radicale, calendars) -> None:
    """Someone edits the event between our read and our delete: If-Match makes the server
    refuse, and we report a retryable error instead of deleting their version."""
    state = {"armed": False}

    def edit_first(request: httpx.Request) -> None:
        if state["armed"] and request.method == "DELETE":
            state["armed"] = False
            [obj] = client_calendar(radicale, calendars["Maria"]).events()
            obj.data = obj.data.replace("SUMMARY:Haircut", "SUMMARY:Haircut (moved desk)")
            obj.save()

    recorder = Recorder(before=edit_first)
    conn = make_connector(radicale, calendars, transport=recorder)
    try:
        booking = await conn.book(**book_kwargs(next_tuesday(14), "edit"))
        state["armed"] = True
        with pytest.raises(ConnectorError, match="changed in the calendar") as info:
            await conn.cancel(booking.id)
        assert info.value.retryable
        [event] = events_in(radicale, calendars["Maria"])
        assert "moved desk" in str(event["summary"])
        assert (await conn.cancel(booking.id)).status == "cancelled"  # a retry re-reads
    finally:
        await conn.aclose()


async def test_events_made_by_people_block_the_agent(radicale, calendars, connector) -> None:
    start = next_tuesday(15)
    client_calendar(radicale, calendars["Maria"]).save_event(
        dtstart=start.astimezone(UTC), dtend=(start + timedelta(hours=1)).astimezone(UTC),
        summary="Staff meeting",
    )
    with pytest.raises(SlotUnavailableError):
        await connector.book(**book_kwargs(start + timedelta(minutes=30), "m", staff="Maria"))
    other = await connector.book(**book_kwargs(start + timedelta(minutes=30), "t"))
    assert other.staff == "Tom"


async def test_opening_hours_come_from_the_business(connector) -> None:
    sunday = next_tuesday(10) + timedelta(days=5)
    with pytest.raises(SlotUnavailableError, match="closed on Sundays"):
        await connector.book(**book_kwargs(sunday, "sun"))
    assert await connector.list_free_slots(service="haircut", start=sunday,
                                           end=sunday + timedelta(hours=8)) == []
    late = next_tuesday(17, 45)
    with pytest.raises(SlotUnavailableError):
        await connector.book(**book_kwargs(late, "late"))
    with pytest.raises(InvalidRequestError):
        await connector.book(**book_kwargs(next_tuesday(10), "x") | {"service": "massage"})


async def test_a_stale_hold_from_a_crashed_booking_is_reclaimed(radicale, calendars, connector,
                                                                monkeypatch) -> None:
    start = next_tuesday(16)
    begin, end = start.astimezone(UTC), start.astimezone(UTC) + timedelta(minutes=30)
    # A worker claimed Maria's cell and died before writing its event.
    assert await connector._claim("Maria", begin, end, "va-crashed-booking")
    with pytest.raises(SlotUnavailableError):  # fresh: respected
        await connector.book(**book_kwargs(start, "k2", staff="Maria"))
    monkeypatch.setattr(caldav_connector, "STALE_HOLD_AFTER", timedelta(seconds=-5))
    booking = await connector.book(**book_kwargs(start, "k3", staff="Maria"))
    assert booking.staff == "Maria"


def test_settings_are_validated_with_the_field_named() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as info:
        KIND.validate({"calendar_url": "not a url"}, {})
    assert info.value.errors()[0]["loc"] == ("calendar_url",)
    with pytest.raises(ValidationError) as info:
        KIND.validate({"calendar_url": "https://dav.example/cal/", "colour": "red"}, {})
    assert info.value.errors()[0]["loc"] == ("colour",)
    with pytest.raises(InvalidRequestError, match="no CalDAV calendar configured"):
        CalDavCalendar(business=SALON, settings=CalDavSettings(
            staff_calendars={"Maria": "https://dav.example/m/"}), secrets=CalDavSecrets())


async def test_wrong_password_is_a_clear_non_retryable_error(radicale, calendars) -> None:
    from connectors.base import ConnectorStatusError

    conn = CalDavCalendar(business=SALON, settings=CalDavSettings(
        staff_calendars=calendars, username=radicale.user), secrets=CalDavSecrets(
        password="wrong"))
    try:
        with pytest.raises(ConnectorStatusError) as info:
            await conn.health_check()
    finally:
        await conn.aclose()
    assert info.value.status_code == 401 and not info.value.retryable
    assert "wrong" not in str(info.value) and radicale.password not in str(info.value)


# -- concurrency: many agents, one staff member, one time -------------------------------------


async def _race(radicale, calendars, requests: list[dict]) -> Counter:
    # Five "agent workers", each behind the resilience layer as in production: 50 connections
    # at once overflow Radicale's accept backlog on a busy 2-core box now and then, and a
    # connection it resets is a retryable ConnectorError (a retried book finds its own event
    # by the idempotency key, so a retry never books twice).
    workers = [ResilientConnector(make_connector(radicale, calendars), kind=KIND,
                                  options=ConnectOptions.patient()) for _ in range(5)]
    try:
        results = await asyncio.gather(
            *(workers[i % 5].book(**req) for i, req in enumerate(requests)),
            return_exceptions=True,
        )
    finally:
        for w in workers:
            await w.aclose()
    unexpected = [r for r in results if isinstance(r, Exception)
                  and not isinstance(r, SlotUnavailableError)]
    assert unexpected == []
    return Counter("booked" if not isinstance(r, Exception) else "refused" for r in results)


async def test_50_concurrent_bookings_of_one_slot_exactly_one_wins(radicale, calendars) -> None:
    start = next_tuesday(10)
    requests = [book_kwargs(start, f"same-{i}", staff="Maria", name=f"Caller {i}")
                for i in range(50)]
    counts = await _race(radicale, calendars, requests)
    print(f"\ncaldav identical: {dict(counts)}")
    assert counts == Counter(booked=1, refused=49)
    assert len(events_in(radicale, calendars["Maria"])) == 1


async def test_50_concurrent_overlapping_bookings_exactly_one_wins(radicale, calendars) -> None:
    """Different services and starts, all covering 10:30-11:00 on Maria's calendar."""
    shapes = [("color", next_tuesday(10)), ("haircut", next_tuesday(10, 30)),
              ("color", next_tuesday(9, 30)), ("blowdry", next_tuesday(10, 30)),
              ("color", next_tuesday(10, 30))]
    requests = [book_kwargs(shapes[i % 5][1], f"ovl-{i}", staff="Maria",
                            service=shapes[i % 5][0]) for i in range(50)]
    counts = await _race(radicale, calendars, requests)
    print(f"\ncaldav overlapping: {dict(counts)}")
    assert counts == Counter(booked=1, refused=49)
    assert len(events_in(radicale, calendars["Maria"])) == 1
