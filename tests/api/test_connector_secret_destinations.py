"""A connector's stored secrets never follow its settings to a new server: the admin who
points ``calendar_url`` elsewhere and presses "test" must have re-entered the password."""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from voice_agent.store.review import AuditLog, create_token

SECRET = "caldav-pass-0c41-DO-NOT-LEAK"
DEAD_URL = "http://127.0.0.1:9/salon/"  # the discard port: nothing listens there


@pytest.fixture
def catcher() -> Iterator[tuple[str, list[str]]]:
    """A real HTTP server standing for the attacker's host; records Authorization headers."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            seen.append(self.headers.get("Authorization", ""))
            self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_PUT = do_POST = do_REPORT = do_PROPFIND = do_OPTIONS = _any

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.2", 0), Handler)  # another host than 127.0.0.1
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.2:{server.server_address[1]}/salon/", seen
    server.shutdown()
    server.server_close()


@pytest.fixture
def client(make_client) -> Iterator[TestClient]:
    with make_client() as client:
        yield client
        cache = client.runtime._connectors
        if cache is not None:
            asyncio.run(cache.aclose())


def test_pointing_a_connector_elsewhere_needs_its_password(client: TestClient,
                                                           catcher) -> None:
    evil_url, seen = catcher
    admin = {"Authorization": "Bearer " + create_token(client.runtime.engine, name="ops",
                                                      role="admin")}
    created = client.post("/admin/connectors", headers=admin, json={
        "business": "demo-salon", "kind": "caldav",
        "settings": {"calendar_url": DEAD_URL, "username": "salon"},
        "secrets": {"password": SECRET}})
    assert created.status_code == 201, created.text

    moved = client.put("/admin/connectors/demo-salon", headers=admin,
                       json={"settings": {"calendar_url": evil_url, "username": "salon"}})
    assert moved.status_code == 422
    (error,) = moved.json()["detail"]
    assert error["loc"] == ["body", "secrets"] and error["type"] == "secrets_required"
    assert "calendar_url" in error["msg"] and "re-enter password" in error["msg"]
    assert client.post("/admin/connectors/demo-salon/test", headers=admin).status_code == 200
    assert seen == []  # the stored password went nowhere new

    # with the password re-entered, the new host gets that one, never the stored one
    moved = client.put("/admin/connectors/demo-salon", headers=admin, json={
        "settings": {"calendar_url": evil_url, "username": "salon"},
        "secrets": {"password": "typed-again"}})
    assert moved.status_code == 200, moved.text
    client.post("/admin/connectors/demo-salon/test", headers=admin)
    sent = {base64.b64decode(h.split()[1]).decode() for h in seen if h.startswith("Basic ")}
    assert sent and sent <= {"salon:typed-again"}

    with Session(client.runtime.engine) as session:
        update = session.exec(select(AuditLog).where(AuditLog.action == "connector.update")).one()
    assert update.detail["values"] == {"calendar_url": [DEAD_URL, evil_url]}
    assert update.detail["secrets"] == ["password"] and SECRET not in str(update.detail)
