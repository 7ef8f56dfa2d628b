"""Every route of the app, enumerated from ``app.routes``: anonymous → 401, a token of the wrong
role → 403, the right role → neither. Only the routes listed in PUBLIC are exempt, each with
its own check. A new route that nobody classified, or that forgot its auth, fails here."""

from __future__ import annotations

import re

import fastapi.routing
import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from voice_agent.store.review import ROLES, create_token

# Public on purpose: Twilio's webhook (checks X-Twilio-Signature itself), its media stream
# (one-time token + signature, checked before accept) and the probes.
PUBLIC = {
    ("POST", "/telephony/twilio/voice"),
    ("WS", "/telephony/twilio/media/{token}"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
}
# The least role each protected part of the API needs (admin may do everything).
ROLE_BY_PREFIX = {"/admin/": "admin", "/review/": "reviewer", "/metrics": "metrics"}


def _flat_routes(app) -> list[tuple[object, str, set[str] | None]]:
    """(route, full path, methods) of every route, routers included. FastAPI >= 0.16x keeps
    included routers nested in ``app.routes``; its own OpenAPI code flattens them with
    ``iter_route_contexts``, and so does this (older versions list them flat)."""
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)
    if flatten is None:
        return [(r, getattr(r, "path", "?"), getattr(r, "methods", None)) for r in app.routes]
    return [(c.original_route, c.path, c.methods) for c in flatten(app.routes)]


def _app_routes(make_client) -> list[tuple[str, str]]:
    app = make_client().app
    routes = []
    for route, path, methods in _flat_routes(app):
        if isinstance(route, APIWebSocketRoute):
            routes.append(("WS", path))
        elif isinstance(route, APIRoute):
            routes.extend((method, path) for method in sorted(methods or ()))
        else:  # a plain Starlette route or mount would bypass the dependency-based auth
            routes.append((type(route).__name__, path or "?"))
    return routes


def _role_for(path: str) -> str | None:
    return next((role for prefix, role in ROLE_BY_PREFIX.items() if path.startswith(prefix)),
                None)


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "demo-salon", path)


def _call(client: TestClient, method: str, path: str, token: str | None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    kwargs = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
    return client.request(method, _concrete(path), headers=headers, **kwargs)


def test_every_route_is_classified(make_client) -> None:
    routes = _app_routes(make_client)
    assert len(routes) >= 15  # the check sees the app's routes at all
    unclassified = [r for r in routes if r not in PUBLIC and _role_for(r[1]) is None]
    assert unclassified == []
    assert all(kind in ("WS", "GET", "POST", "PUT", "DELETE", "PATCH") for kind, _ in routes)
    assert PUBLIC <= set(routes)  # the list of exemptions holds no stale entry


def test_route_table(make_client) -> None:
    """anonymous / wrong role / right role for every protected route, as one table."""
    with make_client(api_rate_per_s=0) as client:
        engine = client.runtime.engine
        tokens = {role: create_token(engine, name=f"t-{role}", role=role) for role in ROLES}
        table, failures = [], []
        for method, path in _app_routes(make_client):
            if (method, path) in PUBLIC:
                continue
            need = _role_for(path)
            wrong = [r for r in ROLES if r not in (need, "admin")]
            row = {"route": f"{method} {path}", "anonymous": _call(client, method, path, None)
                   .status_code}
            row["wrong"] = {r: _call(client, method, path, tokens[r]).status_code for r in wrong}
            row["right"] = {r: _call(client, method, path, tokens[r]).status_code
                            for r in sorted({need or "admin", "admin"})}
            table.append(row)
            if row["anonymous"] != 401:
                failures.append((row["route"], "anonymous", row["anonymous"]))
            failures += [(row["route"], r, c) for r, c in row["wrong"].items() if c != 403]
            failures += [(row["route"], r, c) for r, c in row["right"].items()
                         if c in (401, 403)]
    for row in table:  # shown with -s; the report quotes it
        print(f"{row['route']:<48} anon={row['anonymous']} wrong={row['wrong']} "
              f"right={row['right']}")
    assert failures == []
    assert len(table) >= 11


def test_public_routes_check_their_own_credentials(make_client) -> None:
    with make_client() as client:
        assert client.post("/telephony/twilio/voice", data={"CallSid": "CA1"}).status_code == 403
        with pytest.raises(WebSocketDisconnect), client.websocket_connect(
                "/telephony/twilio/media/" + "A" * 43):
            pass
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200
