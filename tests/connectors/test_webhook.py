"""Contract tests of the webhook connector against a fake in-house CRM (httpx.MockTransport)
whose JSON shapes are deliberately unlike ours."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import httpx
import pytest
from pydantic import ValidationError

from connectors.base import (
    Booking,
    BookingNotFoundError,
    Capability,
    Connector,
    ConnectorStatusError,
    ConnectorTimeoutError,
    InvalidRequestError,
    MalformedResponseError,
    SlotUnavailableError,
)
from connectors.registry import BuildContext, build_connector, get_kind
from connectors.resilience import ConnectOptions, ResilientConnector
from connectors.schedule import Business, load_business
from connectors.webhook import WebhookConnector, WebhookSecrets, WebhookSettings
from connectors.webhook_mapping import render_json, render_query, render_string, resolve

NY = ZoneInfo("America/New_York")
API_KEY = "k-SECRET-123"
BASE = "/api/v2"

SETTINGS: dict[str, Any] = {
    "base_url": "https://crm.example.test/api/v2",
    "auth_header_name": "X-Api-Key",
    "availability": {
        "path": "/openings",
        "query": {"svc": "{{ service }}", "from": "{{ window_start_utc }}",
                  "to": "{{ window_end_utc }}", "len": "{{ duration_minutes }}"},
        "response": {"slots_pointer": "/result/openings", "start_pointer": "/when",
                     "staff_pointer": "/who/name"},
    },
    "book": {
        "method": "POST",
        "path": "/appointments",
        "body": {
            "customer": {"fullName": "{{ name }}", "tel": "{{ phone }}"},
            "what": "{{ service }}",
            "slot": {"from": "{{ start }}", "minutes": "{{ duration_minutes }}"},
            "who": "{{ staff }}",
            "note": "Booked by the phone agent: {{ service_name }} on {{ date }}",
        },
        "response": {"booking_pointer": "/appointment", "id_pointer": "/ref",
                     "start_pointer": "/slot/from", "end_pointer": "/slot/to",
                     "staff_pointer": "/who", "status_pointer": "/state",
                     "cancelled_values": ["void"]},
    },
    "get": {
        "path": "/appointments/{{ booking_id }}",
        "response": {"booking_pointer": "/appointment", "id_pointer": "/ref",
                     "start_pointer": "/slot/from", "end_pointer": "/slot/to",
                     "service_pointer": "/what", "status_pointer": "/state",
                     "cancelled_values": ["void"], "name_pointer": "/customer/fullName",
                     "phone_pointer": "/customer/tel", "staff_pointer": "/who"},
    },
    "cancel": {"method": "DELETE", "path": "/appointments/{{ booking_id }}"},
    "reschedule": {
        "method": "PATCH",
        "path": "/appointments/{booking_id}",
        "body": {"slot": {"from": "{{ new_start }}", "minutes": "{{ duration_minutes }}"}},
        "response": {"booking_pointer": "/appointment", "id_pointer": "/ref",
                     "start_pointer": "/slot/from", "staff_pointer": "/who"},
    },
    "find": {
        "path": "/appointments",
        "query": {"tel": "{{ phone }}", "customer": "{{ name }}"},
        "response": {"list_pointer": "/items", "id_pointer": "/ref",
                     "start_pointer": "/slot/from", "service_pointer": "/what",
                     "status_pointer": "/state", "cancelled_values": ["void"],
                     "name_pointer": "/customer/fullName", "phone_pointer": "/customer/tel",
                     "staff_pointer": "/who"},
    },
    "health": {"path": "/ping"},
}
SECRETS: dict[str, Any] = {"auth_header_value": API_KEY, "extra_headers": {"X-Tenant": "salon-7"}}
BUSY_AVAILABILITY: dict[str, Any] = {
    "path": "/busy",
    "query": {"day": "{{ date }}"},
    "response": {"mode": "busy", "busy_pointer": "/data/blocks", "busy_start_pointer": "/from",
                 "busy_end_pointer": "/until", "busy_staff_pointer": "/person"},
}


def sat(hour: int, minute: int = 0) -> datetime:
    """Saturday 2026-12-05 at the salon (open 10:00-16:00)."""
    return datetime(2026, 12, 5, hour, minute, tzinfo=NY)


class FakeCrm:
    """An in-house CRM: its own shapes, honours Idempotency-Key, 409 on a double booking, and a
    sloppy phone search (matches on the last four digits only)."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.appointments: dict[str, dict[str, Any]] = {}
        self.by_key: dict[str, str] = {}
        self.openings: list[dict[str, Any]] = []
        self.blocks: list[dict[str, Any]] = []
        self.override: httpx.Response | None = None

    def json_of(self, request: httpx.Request) -> Any:
        return json.loads(request.content)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.headers.get("x-api-key") != API_KEY:
            return httpx.Response(401, json={"error": "bad key"})
        if self.override is not None:
            return self.override
        path = request.url.path.removeprefix(BASE)
        method = request.method
        if (method, path) == ("GET", "/ping"):
            return httpx.Response(200, json={"ok": True})
        if (method, path) == ("GET", "/openings"):
            return httpx.Response(200, json={"result": {"openings": self.openings}})
        if (method, path) == ("GET", "/busy"):
            return httpx.Response(200, json={"data": {"blocks": self.blocks}})
        if (method, path) == ("POST", "/appointments"):
            return self.create(request)
        if (method, path) == ("GET", "/appointments"):
            tail = "".join(c for c in request.url.params.get("tel", "") if c.isdigit())[-4:]
            items = [a for a in self.appointments.values()
                     if a["customer"]["tel"].endswith(tail)]
            return httpx.Response(200, json={"total": len(items), "items": items})
        raw = request.url.raw_path.decode()
        if raw.startswith(f"{BASE}/appointments/"):
            ref = unquote(raw.removeprefix(f"{BASE}/appointments/"))
            appt = self.appointments.get(ref)
            if appt is None:
                return httpx.Response(404, json={"error": "no such appointment"})
            if method == "GET":
                return httpx.Response(200, json={"appointment": appt})
            if method == "DELETE":
                appt["state"] = "void"
                return httpx.Response(204)
            if method == "PATCH":
                return self.move(appt, self.json_of(request))
        return httpx.Response(404, text="<html>Not found</html>",
                              headers={"content-type": "text/html"})

    def taken_by(self, start: datetime, minutes: int, who: str | None, ignore: str = ""
                 ) -> dict[str, Any] | None:
        end = start + timedelta(minutes=minutes)
        for appt in self.appointments.values():
            a_start = datetime.fromisoformat(appt["slot"]["from"])
            a_end = datetime.fromisoformat(appt["slot"]["to"])
            if (appt["ref"] != ignore and appt["state"] != "void" and a_start < end
                    and start < a_end and (who is None or appt["who"] == who)):
                return appt
        return None

    def create(self, request: httpx.Request) -> httpx.Response:
        key = request.headers.get("idempotency-key")
        if key in self.by_key:
            return httpx.Response(200, json={"appointment": self.appointments[self.by_key[key]]})
        body = self.json_of(request)
        start = datetime.fromisoformat(body["slot"]["from"])
        minutes = body["slot"]["minutes"]
        holder = self.taken_by(start, minutes, body["who"])
        if holder is not None:
            detail = f"slot held by {holder['customer']['fullName']} {holder['customer']['tel']}"
            return httpx.Response(409, json={"error": detail})
        ref = f"A/{len(self.appointments) + 1} x"
        self.appointments[ref] = {
            "ref": ref, "what": body["what"], "state": "confirmed",
            "who": body["who"] or "Maria",
            "slot": {"from": body["slot"]["from"],
                     "to": (start + timedelta(minutes=minutes)).isoformat()},
            "customer": body["customer"],
        }
        if key:
            self.by_key[key] = ref
        appt = {k: v for k, v in self.appointments[ref].items() if k in ("ref", "slot", "who",
                                                                         "state")}
        return httpx.Response(201, json={"appointment": appt})

    def move(self, appt: dict[str, Any], body: dict[str, Any]) -> httpx.Response:
        start = datetime.fromisoformat(body["slot"]["from"])
        minutes = body["slot"]["minutes"]
        if self.taken_by(start, minutes, appt["who"], ignore=appt["ref"]):
            return httpx.Response(409, json={"error": "overlap"})
        appt["slot"] = {"from": start.isoformat(),
                        "to": (start + timedelta(minutes=minutes)).isoformat()}
        return httpx.Response(200, json={"appointment": {"ref": appt["ref"],
                                                         "slot": {"from": start.isoformat()}}})


@pytest.fixture(scope="module")
def salon() -> Business:
    return load_business("businesses/demo-salon.yaml")


@pytest.fixture
def crm() -> FakeCrm:
    return FakeCrm()


def make(salon: Business, crm: FakeCrm, settings: dict[str, Any] | None = None,
         secrets: dict[str, Any] | None = None) -> WebhookConnector:
    return WebhookConnector(
        business=salon,
        settings=WebhookSettings.model_validate(settings or SETTINGS),
        secrets=WebhookSecrets.model_validate(SECRETS if secrets is None else secrets),
        transport=httpx.MockTransport(crm.handle),
    )


@pytest.fixture
def conn(salon: Business, crm: FakeCrm) -> WebhookConnector:
    return make(salon, crm)


def with_availability(availability: dict[str, Any]) -> dict[str, Any]:
    settings = copy.deepcopy(SETTINGS)
    settings["availability"] = availability
    return settings


async def book_jane(conn: WebhookConnector, **overrides: Any) -> Booking:
    args: dict[str, Any] = {"service": "color", "start": sat(10), "name": "Jane Roe",
                            "phone": "+1 555 0100", "staff": "tom", "idempotency_key": "k1"}
    return await conn.book(**{**args, **overrides})


# -- availability ------------------------------------------------------------------------------


async def test_free_slots_are_crm_openings_within_business_hours(conn, crm):
    crm.openings = [
        {"when": "2026-12-05T09:30:00-05:00", "who": {"name": "Maria"}},  # before opening
        {"when": "2026-12-05T10:00:00-05:00", "who": {"name": "maria"}},
        {"when": "2026-12-05T15:00:00Z", "who": {"name": "Tom"}},  # same start: first wins
        {"when": "2026-12-05T16:00:00Z", "who": None},  # 11:00 local, anyone
        {"when": "2026-12-05T11:30:00"},  # no offset: read in the business timezone
        {"when": "2026-12-05T12:15:00-05:00", "who": {"name": "Tom"}},  # off the grid
        {"when": "2026-12-05T13:00:00-05:00", "who": {"name": "Bob"}},  # not our staff
        {"when": "2026-12-05T16:00:00-05:00", "who": {"name": "Tom"}},  # closing time
        {"when": "2026-12-06T11:00:00-05:00", "who": {"name": "Tom"}},  # Sunday: closed
    ]
    slots = await conn.list_free_slots(service="haircut", start=sat(0), end=sat(0) +
                                       timedelta(days=2))
    assert [(s.start, s.end, s.staff) for s in slots] == [
        (sat(10), sat(10, 30), "Maria"),
        (sat(11), sat(11, 30), None),
        (sat(11, 30), sat(12), None),
    ]
    assert all(s.start.tzinfo == NY and s.end.tzinfo == NY for s in slots)
    (request,) = crm.requests
    assert request.method == "GET"
    assert request.url.path == "/api/v2/openings"
    assert dict(request.url.params) == {"svc": "haircut", "from": "2026-12-05T05:00:00Z",
                                        "to": "2026-12-07T05:00:00Z", "len": "30"}
    assert request.headers["x-api-key"] == API_KEY
    assert request.headers["x-tenant"] == "salon-7"
    assert "authorization" not in request.headers


async def test_busy_mode_frees_what_no_block_covers(salon, crm):
    conn = make(salon, crm, with_availability(BUSY_AVAILABILITY))
    crm.blocks = [
        {"from": "2026-12-05T10:00:00-05:00", "until": "2026-12-05T11:00:00-05:00",
         "person": "Maria"},
        {"from": "2026-12-05T10:00:00-05:00", "until": "2026-12-05T10:30:00-05:00",
         "person": "tom"},
        {"from": "2026-12-05T16:00:00Z", "until": "2026-12-05T16:30:00Z"},  # everyone
        {"from": "2026-12-05T11:30:00-05:00", "until": "2026-12-05T12:00:00-05:00",
         "person": "Someone Else"},  # not bookable by us: ignored
    ]
    slots = await conn.list_free_slots(service="haircut", start=sat(10), end=sat(12))
    assert [(s.start, s.staff) for s in slots] == [(sat(10, 30), "Tom"), (sat(11, 30), "Maria")]
    assert dict(crm.requests[0].url.params) == {"day": "2026-12-05"}


async def test_closed_window_does_not_ask_the_crm(conn, crm):
    sunday = datetime(2026, 12, 6, 0, 0, tzinfo=NY)
    assert await conn.list_free_slots(service="haircut", start=sunday,
                                      end=sunday + timedelta(days=1)) == []
    assert crm.requests == []
    with pytest.raises(InvalidRequestError):
        await conn.list_free_slots(service="massage", start=sat(10), end=sat(12))


# -- book --------------------------------------------------------------------------------------


async def test_book_sends_the_mapped_request_and_fills_what_the_crm_omits(conn, crm):
    booking = await book_jane(conn)
    assert booking == Booking(id="A/1 x", business="demo-salon", service="color",
                              start=sat(10), end=sat(11, 30), name="Jane Roe",
                              phone="+1 555 0100", staff="Tom", status="booked")
    assert booking.start.tzinfo == NY
    (request,) = crm.requests
    assert (request.method, request.url.path) == ("POST", "/api/v2/appointments")
    assert request.headers["idempotency-key"] == "k1"
    assert request.headers["x-api-key"] == API_KEY
    assert json.loads(request.content) == {
        "customer": {"fullName": "Jane Roe", "tel": "+1 555 0100"},
        "what": "color",
        "slot": {"from": "2026-12-05T10:00:00-05:00", "minutes": 90},  # typed: an integer
        "who": "Tom",  # the business's spelling
        "note": "Booked by the phone agent: Hair colouring on 2026-12-05",
    }


async def test_book_without_staff_sends_null_and_reads_who_the_crm_chose(conn, crm):
    booking = await book_jane(conn, staff=None, service="haircut")
    assert json.loads(crm.requests[0].content)["who"] is None
    assert booking.staff == "Maria"
    assert booking.end == sat(10, 30)


async def test_book_twice_with_one_idempotency_key_is_one_booking(conn, crm):
    first = await book_jane(conn)
    again = await book_jane(conn)
    assert again == first
    assert len(crm.appointments) == 1
    assert [r.headers["idempotency-key"] for r in crm.requests] == ["k1", "k1"]


async def test_conflict_is_slot_unavailable_without_crm_text(conn, crm):
    await book_jane(conn)
    with pytest.raises(SlotUnavailableError) as exc:
        await book_jane(conn, idempotency_key="k2", name="Ann Other", phone="+1 555 0199")
    assert not exc.value.retryable
    assert "Jane" not in exc.value.message and "0100" not in exc.value.message
    assert exc.value.__cause__ is None


async def test_book_is_checked_against_the_business_before_the_crm(conn, crm):
    with pytest.raises(SlotUnavailableError, match="closed on Sundays"):
        await book_jane(conn, start=datetime(2026, 12, 6, 11, tzinfo=NY))
    with pytest.raises(SlotUnavailableError, match="not a bookable start"):
        await book_jane(conn, start=sat(10, 15))
    with pytest.raises(InvalidRequestError):
        await book_jane(conn, staff="Bob")
    with pytest.raises(InvalidRequestError):
        await book_jane(conn, phone="  ")
    assert crm.requests == []


# -- reschedule, cancel, find ------------------------------------------------------------------


async def test_reschedule_reads_the_booking_then_moves_it(conn, crm):
    booked = await book_jane(conn)
    crm.requests.clear()
    moved = await conn.reschedule(booked.id, sat(14))
    get, patch = crm.requests
    assert (get.method, get.url.raw_path) == ("GET", b"/api/v2/appointments/A%2F1%20x")
    assert (patch.method, patch.url.raw_path) == ("PATCH", b"/api/v2/appointments/A%2F1%20x")
    assert json.loads(patch.content) == {"slot": {"from": "2026-12-05T14:00:00-05:00",
                                                  "minutes": 90}}
    assert moved == Booking(id=booked.id, business="demo-salon", service="color",
                            start=sat(14), end=sat(15, 30), name="Jane Roe",
                            phone="+1 555 0100", staff="Tom", status="booked")


async def test_reschedule_refusals(conn, crm):
    first = await book_jane(conn)
    second = await book_jane(conn, start=sat(13), idempotency_key="k2")
    with pytest.raises(SlotUnavailableError):
        await conn.reschedule(second.id, sat(11))  # overlaps the first (same staff)
    with pytest.raises(SlotUnavailableError, match="after closing"):
        await conn.reschedule(second.id, sat(15))  # 90 minutes don't fit before 16:00
    with pytest.raises(BookingNotFoundError):
        await conn.reschedule("nope/1", sat(14))
    assert [r.method for r in crm.requests].count("PATCH") == 1
    assert (await conn.reschedule(first.id, sat(10))).start == sat(10)  # same start: no-op


async def test_cancel_reads_the_booking_and_is_idempotent(conn, crm):
    booked = await book_jane(conn)
    cancelled = await conn.cancel(booked.id)
    assert cancelled == Booking(id=booked.id, business="demo-salon", service="color",
                                start=sat(10), end=sat(11, 30), name="Jane Roe",
                                phone="+1 555 0100", staff="Tom", status="cancelled")
    assert not cancelled.active
    again = await conn.cancel(booked.id)
    assert again.status == "cancelled"
    assert [r.method for r in crm.requests] == ["POST", "GET", "DELETE", "GET"]
    assert crm.requests[2].url.raw_path == b"/api/v2/appointments/A%2F1%20x"
    with pytest.raises(BookingNotFoundError):
        await conn.cancel("missing")
    with pytest.raises(BookingNotFoundError):
        await conn.reschedule(booked.id, sat(14))  # cancelled


async def test_find_by_phone_filters_and_drops_cancelled(conn, crm):
    late = await book_jane(conn, start=sat(14), service="haircut", idempotency_key="a")
    early = await book_jane(conn, start=sat(10), service="haircut", idempotency_key="b")
    gone = await book_jane(conn, start=sat(11), service="haircut", idempotency_key="c")
    await conn.cancel(gone.id)
    await book_jane(conn, start=sat(12), name="Sam Other", phone="+1 777 0100",
                    idempotency_key="d")  # the CRM's sloppy search returns it too
    crm.requests.clear()
    found = await conn.find_bookings(phone="(555) 0100")
    assert [b.id for b in found] == [early.id, late.id]
    assert found[0] == early
    (request,) = crm.requests
    assert (request.method, request.url.path) == ("GET", "/api/v2/appointments")
    assert dict(request.url.params) == {"tel": "(555) 0100"}  # no name given: no parameter
    assert await conn.find_bookings(name="jane  roe", phone="+15550100") == [early, late]
    with pytest.raises(InvalidRequestError):
        await conn.find_bookings()


# -- capabilities and health -------------------------------------------------------------------


async def test_capabilities_follow_the_configured_endpoints(salon, crm, conn):
    assert conn.capabilities == frozenset(Capability)
    minimal = {k: SETTINGS[k] for k in ("base_url", "auth_header_name", "availability", "book")}
    bare = make(salon, crm, minimal)
    assert isinstance(bare, Connector)
    assert bare.capabilities == {Capability.LIST_SLOTS, Capability.BOOK}
    with pytest.raises(InvalidRequestError, match="reschedule"):
        await bare.reschedule("A/1 x", sat(14))
    with pytest.raises(InvalidRequestError, match="cancel"):
        await bare.cancel("A/1 x")
    with pytest.raises(InvalidRequestError, match="find"):
        await bare.find_bookings(phone="+1 555 0100")
    assert crm.requests == []
    await bare.health_check()  # no health endpoint: GET base_url, any answer below 500
    assert [(r.method, r.url.path) for r in crm.requests] == [("GET", "/api/v2/")]
    await bare.aclose()


async def test_health_check(conn, crm):
    await conn.health_check()
    assert crm.requests[-1].url.path == "/api/v2/ping"
    crm.override = httpx.Response(503, text="down")
    with pytest.raises(ConnectorStatusError) as exc:
        await conn.health_check()
    assert exc.value.retryable


# -- provider failures -------------------------------------------------------------------------


async def test_401_is_not_retryable_and_hides_the_key(salon, crm):
    conn = make(salon, crm, secrets={"auth_header_value": "k-WRONG-999"})
    with pytest.raises(ConnectorStatusError) as exc:
        await conn.list_free_slots(service="haircut", start=sat(10), end=sat(12))
    assert exc.value.status_code == 401
    assert not exc.value.retryable
    assert "k-WRONG" not in str(exc.value)


async def test_429_with_retry_after_is_retryable(conn, crm):
    crm.override = httpx.Response(429, headers={"Retry-After": "7"}, json={"error": "slow"})
    with pytest.raises(ConnectorStatusError) as exc:
        await book_jane(conn)
    assert exc.value.retryable
    assert exc.value.retry_after == 7
    assert "Jane" not in str(exc.value)


async def test_503_is_retryable(conn, crm):
    crm.override = httpx.Response(503, json={"error": "maintenance"})
    with pytest.raises(ConnectorStatusError) as exc:
        await conn.list_free_slots(service="haircut", start=sat(10), end=sat(12))
    assert exc.value.retryable and exc.value.status_code == 503


async def test_html_200_is_malformed(conn, crm):
    crm.override = httpx.Response(200, text="<html>Login</html>",
                                  headers={"content-type": "text/html"})
    with pytest.raises(MalformedResponseError):
        await conn.list_free_slots(service="haircut", start=sat(10), end=sat(12))


async def test_missing_pointer_is_malformed_and_named(conn, crm):
    crm.override = httpx.Response(200, json={"result": {"slots": []}})
    with pytest.raises(MalformedResponseError, match="/result/openings"):
        await conn.list_free_slots(service="haircut", start=sat(10), end=sat(12))
    crm.override = httpx.Response(201, json={"appointment": {"id": 5}})
    with pytest.raises(MalformedResponseError, match="/ref") as exc:
        await book_jane(conn)
    assert "Jane" not in str(exc.value) and "0100" not in str(exc.value)
    crm.override = httpx.Response(200, json={"result": {"openings": {"when": "x"}}})
    with pytest.raises(MalformedResponseError, match="not a list"):
        await conn.list_free_slots(service="haircut", start=sat(10), end=sat(12))


async def test_a_start_that_is_not_a_datetime_is_malformed(conn, crm):
    for bad in ("Jane Roe's slot", "2026-12-05", 1733410800, None, "2026-13-45T10:00:00"):
        crm.openings = [{"when": bad}]
        with pytest.raises(MalformedResponseError, match="/when") as exc:
            await conn.list_free_slots(service="haircut", start=sat(10), end=sat(12))
        assert "Jane" not in str(exc.value)
    crm.override = httpx.Response(200, json={"appointment": {
        "ref": "A/9", "what": "pedicure", "slot": {"from": "2026-12-05T10:00:00-05:00"}}})
    with pytest.raises(MalformedResponseError, match="/what"):
        await conn.cancel("A/9")


async def test_a_hanging_crm_times_out(salon):
    calls = 0

    async def hang(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        await asyncio.sleep(10)
        return httpx.Response(200, json={})

    inner = WebhookConnector(business=salon, settings=WebhookSettings.model_validate(SETTINGS),
                             secrets=WebhookSecrets.model_validate(SECRETS),
                             transport=httpx.MockTransport(hang))
    conn = ResilientConnector(inner, kind="webhook",
                              options=ConnectOptions(timeout=0.2, max_retry=1,
                                                     retry_interval=0.01))
    started = time.monotonic()
    with pytest.raises(ConnectorTimeoutError):
        await conn.list_free_slots(service="haircut", start=sat(10), end=sat(12))
    assert time.monotonic() - started < 2
    assert calls == 2


# -- configuration -----------------------------------------------------------------------------


def changed(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    settings = copy.deepcopy(SETTINGS)
    node = settings
    for key in path[:-1]:
        node = node[key]
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return settings


@pytest.mark.parametrize(("settings", "loc"), [
    (changed(("colour",), "red"), ("colour",)),
    (changed(("book", "retries"), 3), ("book", "retries")),
    (changed(("book", "body", "who"), "{{ stylist }}"), ("book", "body")),
    (changed(("availability", "query", "svc"), "{{ servise }}"), ("availability", "query")),
    (changed(("availability", "path"), "/openings/{{ booking_id }}"), ("availability", "path")),
    (changed(("find", "path"), "/customers/{phone}"), ("find", "path")),
    (changed(("book", "path"), "/appointments/{{ oops"), ("book", "path")),
    (changed(("availability", "response", "slots_pointer"), "result/openings"),
     ("availability", "response", "starts", "slots_pointer")),
    (changed(("get", "response", "id_pointer"), "/a~2b"), ("get", "response", "id_pointer")),
    (changed(("get", "response", "service_pointer"), None),
     ("get", "response", "service_pointer")),
    (changed(("base_url",), "ftp://crm.example.test"), ("base_url",)),
    (changed(("base_url",), "not a url"), ("base_url",)),
    (changed(("get",), None), ("reschedule",)),
    (changed(("health", "body"), {"x": 1}), ("health",)),
    (changed(("conflict_statuses",), [200]), ("conflict_statuses", 0)),
    (changed(("auth_header_name",), "X Api Key"), ("auth_header_name",)),
])
def test_malformed_settings_name_the_field(settings, loc):
    with pytest.raises(ValidationError) as exc:
        WebhookSettings.model_validate(settings)
    locs = [tuple(e["loc"]) for e in exc.value.errors()]
    assert loc in locs, locs


def test_busy_settings_errors_are_named():
    bad = copy.deepcopy(BUSY_AVAILABILITY)
    del bad["response"]["busy_end_pointer"]
    with pytest.raises(ValidationError) as exc:
        WebhookSettings.model_validate(with_availability(bad))
    assert ("availability", "response", "busy", "busy_end_pointer") in [
        tuple(e["loc"]) for e in exc.value.errors()]


def test_cancel_without_get_needs_a_readable_answer():
    settings = changed(("get",), None)
    del settings["reschedule"]
    with pytest.raises(ValidationError) as exc:
        WebhookSettings.model_validate(settings)
    assert [tuple(e["loc"]) for e in exc.value.errors()] == [("cancel",)]
    settings["cancel"]["response"] = {"id_pointer": "/ref", "start_pointer": "/slot/from",
                                      "service_pointer": "/what"}
    WebhookSettings.model_validate(settings)


def test_secrets_are_validated_and_never_shown():
    with pytest.raises(ValidationError) as exc:
        WebhookSecrets.model_validate({"api_key": "x"})
    assert [tuple(e["loc"]) for e in exc.value.errors()] == [("api_key",)]
    with pytest.raises(ValidationError):
        WebhookSecrets.model_validate({"auth_header_value": "a\r\nX-Evil: 1"})
    secrets = WebhookSecrets.model_validate(SECRETS)
    assert API_KEY not in repr(secrets) and "salon-7" not in repr(secrets)


async def test_registry_builds_the_webhook_kind(salon, crm):
    kind = get_kind("webhook")
    assert kind.name == "webhook"
    ctx = BuildContext(business=salon, transport=httpx.MockTransport(crm.handle))
    conn = build_connector("webhook", ctx, SETTINGS, SECRETS)
    assert isinstance(conn, WebhookConnector) and isinstance(conn, Connector)
    crm.openings = [{"when": "2026-12-05T10:00:00-05:00", "who": {"name": "Tom"}}]
    slots = await conn.list_free_slots(service="haircut", start=sat(10), end=sat(12))
    assert [(s.start, s.staff) for s in slots] == [(sat(10), "Tom")]
    await conn.aclose()


# -- the mapping language ----------------------------------------------------------------------


def test_templates_and_pointers():
    variables = {"n": 30, "s": "a/b c", "none": None}
    assert render_json({"k {{ s }}": ["{{ n }}", "{{n}} min", "{{ none }}", 1.5, True]},
                       variables) == {"k a/b c": [30, "30 min", None, 1.5, True]}
    assert render_query({"a": "{{ none }}", "b": "x{{ none }}", "c": "{{ n }}"},
                        variables) == {"b": "x", "c": "30"}
    assert render_string("/x/{s}/{{ s }}", variables, path=True) == "/x/a%2Fb%20c/a%2Fb%20c"
    assert render_string("/x/{s}", {"s": ".."}, path=True) == "/x/%2E%2E"
    doc = {"a/b": {"m~n": [10, {"": "empty"}]}}
    assert resolve(doc, "/a~1b/m~0n/0") == 10
    assert resolve(doc, "/a~1b/m~0n/1/") == "empty"
    assert resolve(doc, "") is doc
    assert resolve(doc, "/a~1b/m~0n/01") is resolve(doc, "/missing")
