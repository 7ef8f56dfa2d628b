"""The connector admin API: admin-only bearer auth on every route, CRUD with secrets that go in
and never come out, 422s naming the field, the audit trail, the runtime picking up changes,
and ``POST .../test`` against the builtin calendar, a real Radicale CalDAV server and a dead
port."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from connectors.caldav import CalDavCalendar
from connectors.resilience import ConnectOptions, ResilientConnector
from tests.connectors.radicale_server import Radicale, radicale_server
from voice_agent.booking.connector_cache import BrokenConnector, check_connector
from voice_agent.store.connector_configs import create_config, get_config, resolved_config
from voice_agent.store.review import AuditLog, create_token, revoke_token
from voice_agent.store.secret_box import SecretBox

SECRET = "caldav-pass-9d3e71-DO-NOT-LEAK"
NEW_SECRET = "caldav-pass-rotated-51b0-DO-NOT-LEAK"
DEAD_URL = "http://127.0.0.1:9/salon/"  # the discard port: nothing listens there
CALDAV = {"calendar_url": DEAD_URL, "username": "salon"}
CREATE = {"business": "demo-salon", "kind": "caldav", "settings": CALDAV,
          "secrets": {"password": SECRET}}
KINDS = ["builtin", "caldav", "calcom", "google_calendar", "webhook"]
ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/admin/businesses", None),
    ("GET", "/admin/connector-kinds", None),
    ("GET", "/admin/connectors", None),
    ("POST", "/admin/connectors", {**CREATE, "business": "demo-dental"}),
    ("GET", "/admin/connectors/demo-salon", None),
    ("PUT", "/admin/connectors/demo-salon", {"secrets": {"password": NEW_SECRET}}),
    ("DELETE", "/admin/connectors/demo-salon", None),
    ("POST", "/admin/connectors/demo-salon/test", None),
]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def engine_of(client: TestClient) -> Engine:
    return client.runtime.engine  # type: ignore[attr-defined]


def audit(engine: Engine) -> list[tuple[str, str, str]]:
    with Session(engine) as session:
        return [(a.actor, a.action, a.target)
                for a in session.exec(select(AuditLog).order_by(AuditLog.at))]


def audit_details(engine: Engine) -> list[dict[str, Any]]:
    with Session(engine) as session:
        return [a.detail for a in session.exec(select(AuditLog).order_by(AuditLog.at))]


def connector_of(client: TestClient, business: str = "demo-salon") -> Any:
    runtime = client.runtime  # type: ignore[attr-defined]
    return runtime.connector_for(runtime.businesses[business])


def close_cache(client: TestClient) -> None:
    cache = client.runtime._connectors  # type: ignore[attr-defined]
    if cache is not None:
        asyncio.run(cache.aclose())


@pytest.fixture
def client(make_client) -> Iterator[TestClient]:
    with make_client() as client:
        yield client
    close_cache(client)


@pytest.fixture
def admin(client: TestClient) -> dict[str, str]:
    return auth(create_token(engine_of(client), name="root", role="admin"))


@pytest.fixture(scope="module")
def radicale(tmp_path_factory) -> Iterator[Radicale]:
    with radicale_server(tmp_path_factory.mktemp("radicale")) as server:
        yield server


@pytest.fixture
def salon_calendars(radicale: Radicale) -> dict[str, str]:
    tag = uuid.uuid4().hex[:8]
    return {"Maria": radicale.make_calendar(f"maria-{tag}"),
            "Tom": radicale.make_calendar(f"tom-{tag}")}


# -- authentication ----------------------------------------------------------------------------


def test_the_route_table_is_covered(client: TestClient) -> None:
    paths = client.app.openapi()["paths"]  # the schema, whether or not /openapi.json is served
    served = {(method.upper(), path) for path, ops in paths.items()
              if path.startswith("/admin") for method in ops}
    assert served == {(m, p.replace("demo-salon", "{business}")) for m, p, _ in ROUTES}


@pytest.fixture
def configured(client: TestClient) -> Engine:
    """demo-salon already has a connector, so every route would succeed for an admin."""
    engine = engine_of(client)
    create_config(engine, SecretBox(client.runtime.settings.secret_key.get_secret_value()),
                  business="demo-salon", kind="caldav", settings=CALDAV,
                  secrets={"password": SECRET}, actor="setup")
    return engine


def _unchanged(engine: Engine, client: TestClient) -> None:
    row = get_config(engine, "demo-salon")
    assert row is not None and row.version == 1
    assert get_config(engine, "demo-dental") is None
    assert audit(engine) == [("setup", "connector.create", "business:demo-salon")]
    box = client.runtime.connectors.box  # type: ignore[attr-defined]
    assert resolved_config(engine, box, "demo-salon")[2] == {"password": SECRET}


@pytest.mark.parametrize(("method", "route", "body"), ROUTES)
def test_every_route_needs_a_valid_token(client: TestClient, configured: Engine, method: str,
                                         route: str, body: dict | None) -> None:
    revoked = create_token(configured, name="gone", role="admin")
    assert revoke_token(configured, "gone")
    cases = {"missing": {}, "unknown": auth("va_not-a-real-token"), "revoked": auth(revoked),
             "empty": auth(""), "basic": {"Authorization": "Basic cm9vdDpzZWNyZXQ="}}
    for case, headers in cases.items():
        resp = client.request(method, route, headers=headers, json=body)
        assert resp.status_code == 401, case
        assert resp.headers["www-authenticate"].startswith("Bearer"), case
        assert SECRET not in resp.text
    _unchanged(configured, client)


@pytest.mark.parametrize(("method", "route", "body"), ROUTES)
def test_reviewers_are_forbidden(client: TestClient, configured: Engine, method: str,
                                 route: str, body: dict | None) -> None:
    reviewer = create_token(configured, name="rita", role="reviewer")
    resp = client.request(method, route, headers=auth(reviewer), json=body)
    assert resp.status_code == 403
    assert "admin" in resp.json()["detail"]
    _unchanged(configured, client)


# -- CRUD --------------------------------------------------------------------------------------


def test_crud_as_admin_never_returns_secrets(client: TestClient,
                                             admin: dict[str, str]) -> None:
    seen: list[str] = []

    def call(method: str, url: str, **kwargs: Any) -> httpx.Response:
        resp = client.request(method, url, headers=admin, **kwargs)
        seen.append(resp.text)
        return resp

    resp = call("POST", "/admin/connectors", json=CREATE)
    assert resp.status_code == 201, resp.text
    created = resp.json()
    assert (created["business"], created["kind"], created["version"], created["updated_by"]) == (
        "demo-salon", "caldav", 1, "root")
    assert created["secrets"] == {"password": "set"}
    assert created["settings"]["calendar_url"] == DEAD_URL
    assert created["settings"]["username"] == "salon"

    resp = call("POST", "/admin/connectors", json=CREATE)
    assert resp.status_code == 409 and "already has a connector" in resp.json()["detail"]
    resp = call("POST", "/admin/connectors", json={**CREATE, "business": "no-such-salon"})
    assert resp.status_code == 404 and "no-such-salon" in resp.json()["detail"]

    assert call("GET", "/admin/connectors/demo-salon").json() == created
    assert call("GET", "/admin/connectors").json() == [created]
    assert call("GET", "/admin/connectors/demo-dental").status_code == 404

    other = "http://127.0.0.1:9/salon-2/"
    resp = call("PUT", "/admin/connectors/demo-salon",
                json={"settings": {"calendar_url": other, "username": "salon"}})
    assert resp.status_code == 200, resp.text
    updated = resp.json()
    assert (updated["version"], updated["settings"]["calendar_url"], updated["secrets"]) == (
        2, other, {"password": "set"})
    assert updated["created_at"] == created["created_at"]
    assert updated["updated_at"] > created["updated_at"]

    resp = call("PUT", "/admin/connectors/demo-salon", json={"secrets": {"password": NEW_SECRET}})
    assert resp.json()["version"] == 3 and resp.json()["settings"]["calendar_url"] == other
    box = client.runtime.connectors.box  # type: ignore[attr-defined]
    assert resolved_config(engine_of(client), box, "demo-salon")[2] == {"password": NEW_SECRET}
    resp = call("PUT", "/admin/connectors/demo-salon", json={"secrets": {"password": None}})
    assert (resp.json()["version"], resp.json()["secrets"]) == (4, {})
    assert call("PUT", "/admin/connectors/demo-dental",
                json={"settings": {}}).status_code == 404

    resp = call("DELETE", "/admin/connectors/demo-salon")
    assert resp.status_code == 204 and resp.content == b""
    assert call("GET", "/admin/connectors/demo-salon").status_code == 404
    assert call("DELETE", "/admin/connectors/demo-salon").status_code == 404
    assert call("GET", "/admin/connectors").json() == []

    assert len(seen) == 14
    for text in seen:
        assert SECRET not in text and NEW_SECRET not in text


@pytest.mark.parametrize(("change", "loc"), [
    pytest.param({"settings": {"calendar_url": "not a url"}}, ["body", "settings", "calendar_url"],
                 id="bad-url"),
    pytest.param({"settings": {**CALDAV, "colour": "red"}}, ["body", "settings", "colour"],
                 id="unknown-setting"),
    pytest.param({"secrets": {"password": SECRET, "api_key": SECRET}},
                 ["body", "secrets", "api_key"], id="unknown-secret"),
    pytest.param({"kind": "outlook"}, ["body", "kind"], id="unknown-kind"),
    pytest.param({"kind": ""}, ["body", "kind"], id="empty-kind"),
    pytest.param({"kind": "calcom"}, ["body", "settings", "event_types"],
                 id="missing-setting"),
    pytest.param({"settings": "calendar_url=http://x"}, ["body", "settings"], id="settings-str"),
    pytest.param({"settings": [CALDAV]}, ["body", "settings"], id="settings-list"),
    pytest.param({"settings": {f"k{i}": i for i in range(201)}}, ["body", "settings"],
                 id="too-many-settings"),
    pytest.param({"secrets": SECRET}, ["body", "secrets"], id="secrets-str"),
    pytest.param({"secrets": {f"k{i}": SECRET for i in range(201)}}, ["body", "secrets"],
                 id="too-many-secrets"),
    pytest.param({"colour": "red"}, ["body", "colour"], id="unknown-field"),
    pytest.param({"business": ""}, ["body", "business"], id="empty-business"),
])
def test_malformed_config_is_422_naming_the_field(client: TestClient, admin: dict[str, str],
                                                  change: dict[str, Any],
                                                  loc: list[str]) -> None:
    resp = client.post("/admin/connectors", headers=admin, json={**CREATE, **change})
    assert resp.status_code == 422, resp.text
    detail = resp.json()["detail"]
    assert detail[0]["loc"] == loc
    assert all(set(d) == {"loc", "msg", "type"} for d in detail)  # no echoed "input"
    assert SECRET not in resp.text
    assert get_config(engine_of(client), "demo-salon") is None
    assert audit(engine_of(client)) == []


@pytest.mark.parametrize(("body", "loc"), [
    ({"settings": {"calendar_url": "nope"}}, ["body", "settings", "calendar_url"]),
    ({"settings": {"staff_calendars": {"Maria": "ftp://x.test/"}}},
     ["body", "settings", "staff_calendars", "Maria"]),
    ({"kind": "outlook"}, ["body", "kind"]),
    ({"kind": "calcom", "settings": {"event_types": {"haircut": 1}}},
     ["body", "secrets", "api_key"]),
    ({"secrets": {"api_key": SECRET}}, ["body", "secrets", "api_key"]),
    ({"settings": 42}, ["body", "settings"]),
    ({"secrets": [SECRET]}, ["body", "secrets"]),
    ({"settings": {f"k{i}": 0 for i in range(201)}}, ["body", "settings"]),
    ({"business": "demo-dental"}, ["body", "business"]),
])
def test_malformed_update_is_422_and_changes_nothing(client: TestClient, admin: dict[str, str],
                                                     body: dict[str, Any],
                                                     loc: list[str]) -> None:
    assert client.post("/admin/connectors", headers=admin, json=CREATE).status_code == 201
    resp = client.put("/admin/connectors/demo-salon", headers=admin, json=body)
    assert resp.status_code == 422, resp.text
    assert resp.json()["detail"][0]["loc"] == loc
    assert SECRET not in resp.text
    row = get_config(engine_of(client), "demo-salon")
    assert (row.version, row.settings["calendar_url"]) == (1, DEAD_URL)


def test_a_body_that_is_not_json_is_422(client: TestClient, admin: dict[str, str]) -> None:
    resp = client.post("/admin/connectors", headers={**admin, "Content-Type": "application/json"},
                       content=f'{{"secrets": {{"password": "{SECRET}"'.encode())
    assert resp.status_code == 422
    assert resp.json()["detail"][0]["type"] == "json_invalid"
    assert SECRET not in resp.text


def test_changes_are_audited_with_the_token_name(client: TestClient,
                                                 admin: dict[str, str]) -> None:
    engine = engine_of(client)
    ops = auth(create_token(engine, name="ops-bot", role="admin"))
    assert client.post("/admin/connectors", headers=admin, json=CREATE).status_code == 201
    assert client.put("/admin/connectors/demo-salon", headers=ops,
                      json={"secrets": {"password": NEW_SECRET}}).status_code == 200
    assert client.post("/admin/connectors/demo-salon/test", headers=ops).status_code == 200
    assert client.delete("/admin/connectors/demo-salon", headers=admin).status_code == 204
    # refused requests are not changes
    assert client.post("/admin/connectors", headers=admin,
                       json={**CREATE, "kind": "outlook"}).status_code == 422
    assert client.delete("/admin/connectors/demo-salon", headers=admin).status_code == 404

    target = "business:demo-salon"
    assert audit(engine) == [("root", "connector.create", target),
                             ("ops-bot", "connector.update", target),
                             ("ops-bot", "connector.test", target),
                             ("root", "connector.delete", target)]
    details = audit_details(engine)
    assert details[0] == {"kind": "caldav", "settings": ["calendar_url", "username"],
                          "secrets": ["password"]}
    assert details[1] == {"secrets": ["password"]}
    assert details[2] == {"ok": False}
    assert SECRET not in str(details) and NEW_SECRET not in str(details)


# -- discovery ---------------------------------------------------------------------------------


def test_businesses_show_their_connector(client: TestClient, admin: dict[str, str]) -> None:
    resp = client.get("/admin/businesses", headers=admin)
    assert resp.status_code == 200
    businesses = {b["name"]: b for b in resp.json()}
    assert set(businesses) == {"demo-salon", "demo-dental"}
    salon = businesses["demo-salon"]
    assert salon["staff"] == ["Maria", "Tom"] and "haircut" in salon["services"]
    assert salon["display_name"] and salon["timezone"]
    assert {b["connector"] for b in businesses.values()} == {"builtin"}

    assert client.post("/admin/connectors", headers=admin, json=CREATE).status_code == 201
    connectors = {b["name"]: b["connector"]
                  for b in client.get("/admin/businesses", headers=admin).json()}
    assert connectors == {"demo-salon": "caldav", "demo-dental": "builtin"}


def test_connector_kinds_with_their_schemas(client: TestClient, admin: dict[str, str]) -> None:
    resp = client.get("/admin/connector-kinds", headers=admin)
    assert resp.status_code == 200
    kinds = {k["kind"]: k for k in resp.json()}
    assert list(kinds) == KINDS
    for kind in kinds.values():
        assert kind["description"]
        assert kind["settings_schema"]["type"] == "object"
        assert kind["secrets_schema"]["type"] == "object"
        assert kind["settings_schema"].get("additionalProperties") is False
    assert {"calendar_url", "staff_calendars", "username"} <= set(
        kinds["caldav"]["settings_schema"]["properties"])
    assert kinds["calcom"]["settings_schema"]["required"] == ["event_types"]
    api_key = kinds["calcom"]["secrets_schema"]["properties"]["api_key"]
    assert api_key["writeOnly"] is True and kinds["calcom"]["secrets_schema"]["required"] == [
        "api_key"]
    assert kinds["builtin"]["secrets_schema"].get("properties", {}) == {}


def test_docs_and_openapi(make_client) -> None:
    client = make_client(api_docs=True)  # off by default (tests/api/test_health.py)
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    spec = client.get("/openapi.json")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    assert set(paths["/admin/connectors"]) >= {"get", "post"}
    assert set(paths["/admin/connectors/{business}"]) >= {"get", "put", "delete"}
    assert "post" in paths["/admin/connectors/{business}/test"]
    assert "get" in paths["/admin/businesses"] and "get" in paths["/admin/connector-kinds"]
    assert "HTTPBearer" in spec.json()["components"]["securitySchemes"]


# -- the runtime follows the configuration -----------------------------------------------------


def test_runtime_uses_the_configured_connector(client: TestClient,
                                               admin: dict[str, str]) -> None:
    builtin = connector_of(client)
    assert isinstance(builtin, ResilientConnector) and builtin.kind == "builtin"
    assert connector_of(client) is builtin
    assert connector_of(client, "demo-dental").kind == "builtin"

    assert client.post("/admin/connectors", headers=admin, json=CREATE).status_code == 201
    caldav = connector_of(client)
    assert caldav.kind == "caldav" and isinstance(caldav.inner, CalDavCalendar)
    assert caldav.inner.calendars == {"Maria": DEAD_URL, "Tom": DEAD_URL}
    assert connector_of(client) is caldav  # cached while the configuration is unchanged
    assert connector_of(client, "demo-dental").kind == "builtin"

    other = "http://127.0.0.1:9/elsewhere/"
    assert client.put("/admin/connectors/demo-salon", headers=admin,
                      json={"settings": {"calendar_url": other}}).status_code == 200
    updated = connector_of(client)
    assert updated is not caldav and updated.kind == "caldav"
    assert updated.inner.calendars == {"Maria": other, "Tom": other}
    assert connector_of(client) is updated

    assert client.delete("/admin/connectors/demo-salon", headers=admin).status_code == 204
    assert connector_of(client).kind == "builtin"


def test_a_recreated_configuration_is_not_mistaken_for_the_old_one(
        client: TestClient, admin: dict[str, str]) -> None:
    assert client.post("/admin/connectors", headers=admin, json=CREATE).status_code == 201
    first = connector_of(client)
    # deleted and re-created between two calls: the new row is version 1 again
    assert client.delete("/admin/connectors/demo-salon", headers=admin).status_code == 204
    other = "http://127.0.0.1:9/new-calendar/"
    resp = client.post("/admin/connectors", headers=admin,
                       json={**CREATE, "settings": {"calendar_url": other}})
    assert resp.json()["version"] == 1
    second = connector_of(client)
    assert second is not first
    assert second.inner.calendars == {"Maria": other, "Tom": other}


# -- POST .../test -----------------------------------------------------------------------------


def test_check_builtin(client: TestClient, admin: dict[str, str]) -> None:
    resp = client.post("/admin/connectors/demo-salon/test", headers=admin)
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert (report["ok"], report["business"], report["kind"]) == (True, "demo-salon", "builtin")
    assert report["health"]["ok"] is True and report["health"]["ms"] >= 0
    availability = report["availability"]
    assert availability["ok"] is True and availability["free_slots"] > 0
    assert availability["service"] == "haircut" and 1 <= len(availability["first"]) <= 5
    assert audit_details(engine_of(client)) == [{"ok": True}]
    assert client.post("/admin/connectors/no-such-salon/test", headers=admin).status_code == 404


def test_check_caldav_against_radicale(client: TestClient, admin: dict[str, str],
                                       radicale: Radicale,
                                       salon_calendars: dict[str, str]) -> None:
    body = {"business": "demo-salon", "kind": "caldav",
            "settings": {"staff_calendars": salon_calendars, "username": radicale.user},
            "secrets": {"password": radicale.password}}
    created = client.post("/admin/connectors", headers=admin, json=body)
    assert created.status_code == 201, created.text
    assert created.json()["settings"]["staff_calendars"] == salon_calendars

    resp = client.post("/admin/connectors/demo-salon/test", headers=admin)
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert report["ok"] is True, report
    assert report["kind"] == "caldav" and report["health"] == {"ok": True,
                                                               "ms": report["health"]["ms"]}
    assert report["availability"]["free_slots"] > 0
    assert radicale.password not in resp.text and radicale.password not in created.text

    wrong = "not-the-radicale-password"
    resp = client.put("/admin/connectors/demo-salon", headers=admin,
                      json={"secrets": {"password": wrong}})
    assert resp.status_code == 200 and resp.json()["secrets"] == {"password": "set"}
    resp = client.post("/admin/connectors/demo-salon/test", headers=admin)
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert report["ok"] is False
    assert report["health"]["ok"] is False and "401" in report["health"]["error"]
    assert report["availability"]["ok"] is False
    assert wrong not in resp.text and radicale.password not in resp.text

    # the live connector followed the change too
    live = connector_of(client)
    assert live.kind == "caldav" and live.inner.calendars == salon_calendars


def test_check_an_unreachable_server(client: TestClient, admin: dict[str, str]) -> None:
    assert client.post("/admin/connectors", headers=admin, json=CREATE).status_code == 201
    resp = client.post("/admin/connectors/demo-salon/test", headers=admin)
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert (report["ok"], report["kind"]) == (False, "caldav")
    assert report["health"]["ok"] is False
    assert "could not reach caldav" in report["health"]["error"]
    assert "could not reach caldav" in report["availability"]["error"]
    assert SECRET not in resp.text


def test_check_a_configuration_that_cannot_be_built(client: TestClient,
                                                    admin: dict[str, str]) -> None:
    # valid on its own, but nothing says where Tom's appointments go
    body = {**CREATE, "settings": {"staff_calendars": {"Maria": DEAD_URL}}}
    assert client.post("/admin/connectors", headers=admin, json=body).status_code == 201
    resp = client.post("/admin/connectors/demo-salon/test", headers=admin)
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert (report["ok"], report["kind"]) == (False, "misconfigured")
    assert "caldav configuration is invalid" in report["health"]["error"]
    assert isinstance(connector_of(client), BrokenConnector)


def test_secrets_under_another_key(make_client) -> None:
    """A server started with a different VOICE_AGENT_SECRET_KEY: the configuration is still
    listed, calls get a connector that fails clearly, the test reports it, nothing is a 500,
    and deleting the configuration recovers."""
    with make_client() as client:
        token = create_token(engine_of(client), name="root", role="admin")
        assert client.post("/admin/connectors", headers=auth(token),
                           json=CREATE).status_code == 201
    close_cache(client)

    with make_client(secret_key=Fernet.generate_key().decode()) as client:
        headers = auth(token)
        shown = client.get("/admin/connectors/demo-salon", headers=headers)
        assert shown.status_code == 200 and shown.json()["secrets"] == {"password": "set"}
        broken = connector_of(client)
        assert isinstance(broken, BrokenConnector)

        resp = client.post("/admin/connectors/demo-salon/test", headers=headers)
        assert resp.status_code == 200, resp.text
        assert resp.json()["ok"] is False and resp.json()["kind"] == "misconfigured"
        assert "cannot be decrypted" in resp.json()["health"]["error"]

        resp = client.put("/admin/connectors/demo-salon", headers=headers,
                          json={"secrets": {"password": NEW_SECRET}})
        assert resp.status_code == 409 and "re-create" in resp.json()["detail"]
        assert get_config(engine_of(client), "demo-salon").version == 1

        assert client.delete("/admin/connectors/demo-salon", headers=headers).status_code == 204
        assert connector_of(client).kind == "builtin"
        assert client.post("/admin/connectors", headers=headers,
                           json=CREATE).status_code == 201
        assert connector_of(client).kind == "caldav"
    close_cache(client)


async def test_check_connector_never_books(client: TestClient) -> None:
    runtime = client.runtime  # type: ignore[attr-defined]
    salon = runtime.businesses["demo-salon"]
    report = await check_connector(runtime.connectors, salon)
    assert report["ok"] is True
    calendar = runtime.connectors.fresh(salon, options=ConnectOptions())
    assert await calendar.list_bookings() == []
