"""The review queue API: bearer auth on every route, listing, inspection, recordings,
approval (booking through the connector, with edits) and rejection, with an audit trail."""

from __future__ import annotations

import asyncio
import logging
import wave
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from connectors.base import Booking, ConnectorError
from connectors.builtin import BuiltinCalendar
from connectors.schedule import Business
from tests.conftest import TEST_SECRET_KEY
from voice_agent.api.auth import AdminDep, ReviewerDep, require_role
from voice_agent.runtime.container import Runtime
from voice_agent.store.models import BookingIntent, Call, Turn, new_id
from voice_agent.store.review import (
    ApiToken,
    AuditLog,
    ReviewItem,
    create_review_item,
    create_token,
    hash_token,
    reject_item,
    revoke_token,
)

START = "2030-01-07T10:00:00-05:00"  # a Monday; Bella Hair Studio opens 09:00-18:00
PAYLOAD = {"service": "haircut", "start": START, "name": "Ann Lee", "phone": "+14155550123"}
ROUTES = [("GET", "/review/items"), ("GET", "/review/items/{id}"),
          ("GET", "/review/items/{id}/recording"), ("POST", "/review/items/{id}/approve"),
          ("POST", "/review/items/{id}/reject")]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def engine_of(client: TestClient) -> Engine:
    return client.runtime.engine  # type: ignore[attr-defined]


def add_item(engine: Engine, *, business: str = "demo-salon", payload: dict | None = None,
             turns: list[Turn] | None = None, recording: Path | None = None) -> ReviewItem:
    """A call (with turns and maybe a recording) whose booking intent awaits review."""
    with Session(engine, expire_on_commit=False) as session:
        call = Call(business=business, caller_phone=PAYLOAD["phone"],
                    recording_path=str(recording) if recording else None)
        intent = BookingIntent(idempotency_key=f"va-{new_id()}", business=business,
                               call_id=call.id, payload=payload or dict(PAYLOAD))
        session.add(call)
        session.flush()  # no ORM relationships: the call must exist first
        session.add_all(Turn(call_id=call.id, **t.model_dump(exclude={"id", "call_id"}))
                        for t in turns or [])
        session.add(intent)
        session.commit()
    return create_review_item(engine, intent=intent, call_id=call.id, business=business,
                              reason="low STT confidence", confidence={"stt_avg_logprob": -1.1})


def item_row(engine: Engine, item_id: str) -> tuple[ReviewItem, BookingIntent]:
    with Session(engine) as session:
        item = session.get(ReviewItem, item_id)
        intent = session.get(BookingIntent, item.intent_id)
        return item, intent


def audit(engine: Engine) -> list[tuple[str, str, str]]:
    with Session(engine) as session:
        rows = session.exec(select(AuditLog).order_by(AuditLog.at))
        return [(a.actor, a.action, a.target) for a in rows]


def calendar(client: TestClient, business: str = "demo-salon") -> BuiltinCalendar:
    runtime = client.runtime  # type: ignore[attr-defined]
    return runtime.connector_for(runtime.businesses[business])


def bookings(client: TestClient) -> list[Booking]:
    return asyncio.run(calendar(client).find_bookings(phone=PAYLOAD["phone"]))


@pytest.fixture
def client(make_client) -> Iterator[TestClient]:
    with make_client() as client:
        yield client


@pytest.fixture
def token(client: TestClient) -> str:
    return create_token(engine_of(client), name="alice", role="reviewer")


@pytest.fixture
def item(client: TestClient) -> ReviewItem:
    return add_item(engine_of(client))


# -- authentication --------------------------------------------------------------------------


def _bad_headers(engine: Engine) -> dict[str, dict[str, str]]:
    revoked = create_token(engine, name="gone", role="admin")
    revoke_token(engine, "gone")
    return {"missing": {}, "unknown": auth("va_not-a-real-token"), "revoked": auth(revoked),
            "basic": {"Authorization": "Basic YWxpY2U6c2VjcmV0"}, "empty": auth("")}


@pytest.mark.parametrize(("method", "route"), ROUTES)
def test_every_route_needs_a_valid_token(client: TestClient, item: ReviewItem, method: str,
                                         route: str) -> None:
    engine = engine_of(client)
    for case, headers in _bad_headers(engine).items():
        resp = client.request(method, route.format(id=item.id), headers=headers,
                              json={"reason": "spam"} if route.endswith("reject") else None)
        assert resp.status_code == 401, case
        assert resp.headers["www-authenticate"].startswith("Bearer"), case
    assert item_row(engine, item.id)[0].status == "pending"
    assert audit(engine) == [] and bookings(client) == []


@pytest.mark.parametrize(("method", "route"), ROUTES)
def test_a_role_that_is_not_allowed_is_forbidden(client: TestClient, item: ReviewItem,
                                                 method: str, route: str) -> None:
    engine = engine_of(client)
    with Session(engine) as session:  # a role from elsewhere (e.g. a future read-only one)
        session.add(ApiToken(name="eve", role="auditor", token_hash=hash_token("va_eve")))
        session.commit()
    resp = client.request(method, route.format(id=item.id), headers=auth("va_eve"),
                          json={"reason": "spam"} if route.endswith("reject") else None)
    assert resp.status_code == 403
    assert item_row(engine, item.id)[0].status == "pending"


def test_admin_only_routes_refuse_reviewers(client: TestClient, token: str) -> None:
    admin = create_token(engine_of(client), name="root", role="admin")
    app = FastAPI()
    app.state.runtime = client.runtime  # type: ignore[attr-defined]

    @app.get("/admin")
    async def admin_only(who: AdminDep) -> dict[str, str]:
        return {"who": who.name}

    @app.get("/reviewer")
    async def reviewer(who: ReviewerDep) -> dict[str, str]:
        return {"who": who.name}

    with TestClient(app) as test:
        assert test.get("/admin", headers=auth(token)).status_code == 403
        assert test.get("/admin", headers=auth(admin)).json() == {"who": "root"}
        assert test.get("/reviewer", headers=auth(admin)).json() == {"who": "root"}
        assert test.get("/reviewer", headers=auth(token)).json() == {"who": "alice"}
    with pytest.raises(ValueError):
        require_role("owner")


# -- listing and inspection ------------------------------------------------------------------


@pytest.mark.parametrize("role", ["reviewer", "admin"])
def test_list_filters_and_pages(client: TestClient, role: str) -> None:
    engine = engine_of(client)
    token = create_token(engine, name="bob", role=role)
    salon = [add_item(engine) for _ in range(3)]
    dental = add_item(engine, business="demo-dental")
    reject_item(engine, item_id=salon[0].id, actor="bob", reason="duplicate")

    resp = client.get("/review/items", headers=auth(token))
    assert resp.status_code == 200
    body = resp.json()
    assert (body["total"], body["limit"], body["offset"]) == (3, 50, 0)
    assert [i["id"] for i in body["items"]] == [salon[1].id, salon[2].id, dental.id]
    assert body["items"][0]["reason"] == "low STT confidence"
    assert body["items"][0]["confidence"] == {"stt_avg_logprob": -1.1}

    page = client.get("/review/items", headers=auth(token),
                      params={"business": "demo-salon", "limit": 1, "offset": 1}).json()
    assert (page["total"], [i["id"] for i in page["items"]]) == (2, [salon[2].id])
    done = client.get("/review/items", headers=auth(token), params={"status": "rejected"}).json()
    assert [(i["id"], i["decided_by"]) for i in done["items"]] == [(salon[0].id, "bob")]
    assert client.get("/review/items", headers=auth(token),
                      params={"status": "all"}).json()["total"] == 4
    for bad in ({"limit": 201}, {"limit": 0}, {"offset": -1}, {"status": "done"}):
        assert client.get("/review/items", headers=auth(token), params=bad).status_code == 422


def test_show_includes_intent_and_turns(client: TestClient, token: str) -> None:
    turns = [Turn(index=1, agent_text="Booked you in for Monday at ten.",
                  tool_calls=[{"name": "book_appointment", "arguments": {"service": "haircut"}}],
                  speech_end_ts=100.0, first_audio_sent_ts=100.8),
             Turn(index=0, caller_text="A haircut Monday at ten please", stt_avg_logprob=-1.4,
                  stt_no_speech_prob=0.2, speech_end_ts=90.0, stt_done_ts=90.3)]
    item = add_item(engine_of(client), turns=turns)
    resp = client.get(f"/review/items/{item.id}", headers=auth(token))
    assert resp.status_code == 200
    body = resp.json()
    assert (body["status"], body["call_id"], body["recording_url"]) == (
        "pending", item.call_id, None)
    assert body["intent"]["payload"] == PAYLOAD and body["intent"]["status"] == "review"
    first, second = body["turns"]
    assert (first["index"], first["caller_text"], first["stt_avg_logprob"]) == (
        0, "A haircut Monday at ten please", -1.4)
    assert first["stt_no_speech_prob"] == 0.2 and first["timings"]["stt_done_ts"] == 90.3
    assert second["agent_text"] == "Booked you in for Monday at ten."
    assert second["tool_calls"][0]["name"] == "book_appointment"
    assert second["timings"]["first_audio_sent_ts"] == 100.8
    assert "llm_messages" not in second
    assert client.get("/review/items/nope", headers=auth(token)).status_code == 404


def write_wav(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(b"\x00\x01" * 800)
    return path.read_bytes()


def test_recording(client: TestClient, token: str, tmp_path: Path) -> None:
    engine = engine_of(client)
    without = add_item(engine)
    resp = client.get(f"/review/items/{without.id}/recording", headers=auth(token))
    assert resp.status_code == 404

    path = client.runtime.settings.recordings_dir / "call.wav"  # type: ignore[attr-defined]
    data = write_wav(path)
    item = add_item(engine, recording=path)
    shown = client.get(f"/review/items/{item.id}", headers=auth(token)).json()
    assert shown["recording_url"] == f"/review/items/{item.id}/recording"
    resp = client.get(shown["recording_url"], headers=auth(token))
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "audio/wav"
    assert resp.content == data

    outside = tmp_path / "elsewhere" / "secret.wav"  # only the recordings folder is served
    write_wav(outside)
    stray = add_item(engine, recording=outside)
    assert client.get(f"/review/items/{stray.id}/recording", headers=auth(token)).status_code \
        == 404
    missing = add_item(engine, recording=path.with_name("deleted.wav"))
    assert client.get(f"/review/items/{missing.id}", headers=auth(token)).json()[
        "recording_url"] is None


# -- decisions -------------------------------------------------------------------------------


def test_approve_books_into_the_calendar(client: TestClient, token: str, item: ReviewItem,
                                         caplog: pytest.LogCaptureFixture) -> None:
    engine = engine_of(client)
    with caplog.at_level(logging.DEBUG):
        resp = client.post(f"/review/items/{item.id}/approve", headers=auth(token),
                           json={"note": "  listened to the recording  "})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["status"], body["decided_by"], body["decision_note"]) == (
        "approved", "alice", "listened to the recording")
    assert datetime.fromisoformat(body["decided_at"]).tzinfo is not None
    [booking] = bookings(client)
    assert booking.id == body["booking_id"]
    assert booking.start == datetime.fromisoformat(START) and booking.service == "haircut"
    stored, intent = item_row(engine, item.id)
    assert (stored.status, intent.status, intent.booking_id) == ("approved", "done", booking.id)
    assert audit(engine) == [("alice", "approve", f"review_item:{item.id}")]
    logged = caplog.text
    assert "Ann" not in logged and "5550123" not in logged and token not in logged


def test_approve_with_edits_books_the_edited_slot(client: TestClient, token: str,
                                                  item: ReviewItem) -> None:
    engine = engine_of(client)
    later = "2030-01-07T11:30:00-05:00"
    resp = client.post(f"/review/items/{item.id}/approve", headers=auth(token),
                       json={"edits": {"start": later, "name": "Anne Lee", "service": "blowdry"}})
    assert resp.status_code == 200, resp.text
    [booking] = bookings(client)
    assert (booking.start, booking.name, booking.service) == (
        datetime.fromisoformat(later), "Anne Lee", "blowdry")
    _, intent = item_row(engine, item.id)
    assert intent.payload == PAYLOAD | {"start": later, "name": "Anne Lee", "service": "blowdry"}
    assert sorted(a[1] for a in audit(engine)) == ["approve", "edit"]
    with Session(engine) as session:
        edit = session.exec(select(AuditLog).where(AuditLog.action == "edit")).one()
    assert edit.detail["changes"]["start"] == {"from": START, "to": later}
    assert set(edit.detail["changes"]) == {"start", "name", "service"}


@pytest.mark.parametrize("edits", [
    {"service": "massage"},                  # not a service of this business
    {"start": "2030-01-07T10:00:00"},        # no UTC offset
    {"start": "next monday"},
    {"name": ""},
    {"phone": "1" * 40},
    {"staff": "Maria"},                      # not an editable field
])
def test_invalid_edits_are_refused(client: TestClient, token: str, item: ReviewItem,
                                   edits: dict[str, str]) -> None:
    resp = client.post(f"/review/items/{item.id}/approve", headers=auth(token),
                       json={"edits": edits})
    assert resp.status_code == 422
    assert item_row(engine_of(client), item.id)[0].status == "pending"
    assert bookings(client) == []


def test_approve_when_the_slot_is_taken(client: TestClient, token: str,
                                        item: ReviewItem) -> None:
    engine = engine_of(client)
    taken = [{"service": "haircut", "start": START, "name": f"Other {n}",
              "phone": f"+1415555010{n}"} for n in range(2)]  # Maria and Tom are both busy
    asyncio.run(calendar(client).seed(taken))
    resp = client.post(f"/review/items/{item.id}/approve", headers=auth(token))
    assert resp.status_code == 409
    assert "no free slot" in resp.json()["detail"]
    stored, intent = item_row(engine, item.id)
    assert (stored.status, intent.status, intent.payload) == ("pending", "review", PAYLOAD)
    assert audit(engine) == [("alice", "approve_failed", f"review_item:{item.id}")]
    # another time works
    resp = client.post(f"/review/items/{item.id}/approve", headers=auth(token),
                       json={"edits": {"start": "2030-01-07T15:00:00-05:00"}})
    assert resp.status_code == 200
    assert [b.start.hour for b in bookings(client)] == [15]


def test_reject_requires_a_reason(client: TestClient, token: str, item: ReviewItem) -> None:
    engine = engine_of(client)
    url = f"/review/items/{item.id}/reject"
    for body in (None, {}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 501}):
        assert client.post(url, headers=auth(token), json=body).status_code == 422, body
    assert item_row(engine, item.id)[0].status == "pending"

    resp = client.post(url, headers=auth(token), json={"reason": "caller said it was a test"})
    assert resp.status_code == 200
    assert (resp.json()["status"], resp.json()["decision_note"]) == (
        "rejected", "caller said it was a test")
    stored, intent = item_row(engine, item.id)
    assert (stored.status, stored.decided_by, intent.status) == ("rejected", "alice", "rejected")
    assert audit(engine) == [("alice", "reject", f"review_item:{item.id}")]
    assert bookings(client) == []


@pytest.mark.parametrize("first", ["approve", "reject"])
def test_deciding_twice_conflicts(client: TestClient, token: str, item: ReviewItem,
                                  first: str) -> None:
    reason = {"reason": "not sure at all"}
    url = f"/review/items/{item.id}"
    assert client.post(f"{url}/{first}", headers=auth(token), json=reason if first == "reject"
                       else None).status_code == 200
    assert client.post(f"{url}/approve", headers=auth(token)).status_code == 409
    assert client.post(f"{url}/reject", headers=auth(token), json=reason).status_code == 409
    assert len(bookings(client)) == (1 if first == "approve" else 0)
    assert [a[1] for a in audit(engine_of(client))] == [first]


def test_unknown_item_is_404(client: TestClient, token: str) -> None:
    for method, route in ROUTES[1:]:
        resp = client.request(method, route.format(id="missing"), headers=auth(token),
                              json={"reason": "spam"} if route.endswith("reject") else None)
        assert resp.status_code == 404, route


# -- connector failures and races (a runtime whose calendar runs a hook before booking) ------


class HookedCalendar(BuiltinCalendar):
    def __init__(self, *, business: Business, engine: Engine,
                 before_book: Callable[[], None] | None) -> None:
        super().__init__(business=business, engine=engine)
        self.before_book = before_book

    async def book(self, **kwargs) -> Booking:
        if self.before_book is not None:
            await asyncio.to_thread(self.before_book)
        return await super().book(**kwargs)


class HookedRuntime(Runtime):
    before_book: Callable[[], None] | None = None

    def connector_for(self, business: Business) -> HookedCalendar:
        assert self.engine is not None
        return HookedCalendar(business=business, engine=self.engine,
                              before_book=self.before_book)


@pytest.fixture
def build_client(tmp_path: Path) -> Iterator[Callable[[str], TestClient]]:
    """Like ``make_client``, on any database URL and with a :class:`HookedRuntime`."""
    from connectors.schedule import load_businesses
    from voice_agent.api.app import create_app
    from voice_agent.config import Settings
    from voice_agent.store.db import make_engine, upgrade

    engines: list[Engine] = []

    def build(url: str) -> TestClient:
        settings = Settings(_env_file=None, data_dir=tmp_path, env="test",
                            twilio_auth_token="test-token", secret_key=TEST_SECRET_KEY)
        runtime = HookedRuntime(settings)
        runtime.engine = make_engine(url)
        engines.append(runtime.engine)
        upgrade(runtime.engine)
        runtime.businesses = load_businesses(settings.businesses_dir)
        runtime.ready = True
        client = TestClient(create_app(settings, runtime=runtime))
        client.runtime = runtime  # type: ignore[attr-defined]
        return client

    yield build
    for engine in engines:
        engine.dispose()


def test_calendar_failure_is_502_and_item_stays_pending(build_client, tmp_path: Path) -> None:
    def down() -> None:
        raise ConnectorError("calendar database error (OperationalError)", retryable=True)

    with build_client(f"sqlite:///{tmp_path}/t.db") as client:
        engine = engine_of(client)
        token = create_token(engine, name="alice", role="reviewer")
        item = add_item(engine)
        client.runtime.before_book = down  # type: ignore[attr-defined]
        resp = client.post(f"/review/items/{item.id}/approve", headers=auth(token))
        assert resp.status_code == 502
        assert "did not accept" in resp.json()["detail"]
        assert item_row(engine, item.id)[0].status == "pending"
        client.runtime.before_book = None  # type: ignore[attr-defined]
        assert client.post(f"/review/items/{item.id}/approve",
                           headers=auth(token)).status_code == 200


def test_rejected_while_booking_undoes_the_booking(build_client, tmp_path: Path) -> None:
    with build_client(f"sqlite:///{tmp_path}/t.db") as client:
        engine = engine_of(client)
        token = create_token(engine, name="alice", role="reviewer")
        item = add_item(engine)
        client.runtime.before_book = lambda: reject_item(  # type: ignore[attr-defined]
            engine, item_id=item.id, actor="bob", reason="caller called back to cancel")
        resp = client.post(f"/review/items/{item.id}/approve", headers=auth(token))
        assert resp.status_code == 409
        assert "rejected by bob" in resp.json()["detail"]
        assert bookings(client) == []
        stored, intent = item_row(engine, item.id)
        assert (stored.status, intent.status) == ("rejected", "rejected")


@pytest.mark.postgres
def test_approve_on_postgres(build_client, pg_url: str) -> None:
    with build_client(pg_url) as client:
        engine = engine_of(client)
        token = create_token(engine, name="alice", role="admin")
        item = add_item(engine)
        resp = client.post(f"/review/items/{item.id}/approve", headers=auth(token),
                           json={"edits": {"start": "2030-01-07T12:00:00-05:00"}})
        assert resp.status_code == 200, resp.text
        [booking] = bookings(client)
        assert booking.id == resp.json()["booking_id"] and booking.start.hour == 12
        stored, intent = item_row(engine, item.id)
        assert (stored.status, intent.status, intent.booking_id) == (
            "approved", "done", booking.id)
        assert sorted(a[1] for a in audit(engine)) == ["approve", "edit"]
        assert client.post(f"/review/items/{item.id}/approve",
                           headers=auth(token)).status_code == 409
