"""Liveness, readiness and metrics on a runtime without models or sidecars."""

from __future__ import annotations

import contextlib

import pytest

from voice_agent.runtime.sidecars import Sidecar, free_port
from voice_agent.store.review import create_token


def test_healthz_answers_even_when_not_ready(make_client) -> None:
    with make_client(ready=False) as client:
        resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok"}


def test_readyz_green_when_ready(make_client) -> None:
    with make_client() as client:
        resp = client.get("/readyz")
    assert resp.status_code == 200
    assert resp.json() == {"ready": True, "models_loaded": False, "sidecars": {},
                           "active_calls": 0, "at_capacity": False,
                           "draining": False}


def test_readyz_red_until_ready(make_client) -> None:
    with make_client(ready=False) as client:
        resp = client.get("/readyz")
    assert resp.status_code == 503
    assert resp.json()["ready"] is False


def test_readyz_red_when_a_sidecar_is_down(make_client) -> None:
    port = free_port()
    with make_client() as client:
        client.runtime.sidecars.append(
            Sidecar(name="tts", argv=["true"], port=port, health_path="/voices"))
        resp = client.get("/readyz")
    assert resp.status_code == 503
    assert resp.json()["sidecars"] == {"tts": False}


def _bearer(client, role: str) -> dict[str, str]:
    token = create_token(client.runtime.engine, name=f"t-{role}", role=role)
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("role", ["metrics", "admin"])
def test_metrics_exposes_active_calls_to_a_scrape_token(make_client, role: str) -> None:
    with make_client() as client:
        with contextlib.ExitStack() as calls:
            for sid in ("CA1", "CA2", "CA3"):
                calls.enter_context(client.runtime.admission.call(sid))
            resp = client.get("/metrics", headers=_bearer(client, role))
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    assert "voice_agent_active_calls 3.0" in resp.text


def test_readyz_red_at_capacity_so_new_calls_go_elsewhere(make_client) -> None:
    with make_client() as client:
        admission = client.runtime.admission
        with contextlib.ExitStack() as calls:
            for i in range(admission.limit):
                calls.enter_context(admission.call(f"CA{i}"))
            full = client.get("/readyz")
        after = client.get("/readyz")
    assert full.status_code == 503 and full.json()["at_capacity"] is True
    assert after.status_code == 200


def test_metrics_need_a_token(make_client) -> None:
    with make_client() as client:
        anonymous = client.get("/metrics")
        reviewer = client.get("/metrics", headers=_bearer(client, "reviewer"))
    assert anonymous.status_code == 401 and "voice_agent" not in anonymous.text
    assert reviewer.status_code == 403


def test_a_metrics_token_opens_nothing_else(make_client) -> None:
    with make_client() as client:
        headers = _bearer(client, "metrics")
        assert client.get("/review/items", headers=headers).status_code == 403
        assert client.get("/admin/connectors", headers=headers).status_code == 403


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
def test_api_docs_are_off_by_default(make_client, path: str) -> None:
    with make_client() as client:
        assert client.get(path).status_code == 404


def test_api_docs_can_be_turned_on(make_client) -> None:
    with make_client(api_docs=True) as client:
        assert client.get("/docs").status_code == 200
        assert "/admin/connectors" in client.get("/openapi.json").json()["paths"]
