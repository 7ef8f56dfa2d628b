"""Liveness, readiness and metrics on a runtime without models or sidecars."""

from __future__ import annotations

import contextlib

from voice_agent.runtime.sidecars import Sidecar, free_port


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
                           "active_calls": 0, "at_capacity": False}


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


def test_metrics_exposes_active_calls(make_client) -> None:
    with make_client() as client:
        with contextlib.ExitStack() as calls:
            for sid in ("CA1", "CA2", "CA3"):
                calls.enter_context(client.runtime.admission.call(sid))
            resp = client.get("/metrics")
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
