"""schemathesis against the admin and review APIs, from the app's own OpenAPI document.

Every operation under ``/admin`` and ``/review`` is called with schema-driven and malformed
requests (up to 20 per operation, valid and invalid by the schema), as an admin; none may
answer 5xx, and each answer must match the documented response schema. Half of the item-id
cases use a real review item seeded in the database, so approve/reject/show reach past the
404. The connector test operation, whose job is to call the configured provider, is left
out; a guard refuses any connection that is not to loopback, so a fuzzed connector URL can
never send traffic anywhere.
"""

from __future__ import annotations

import itertools
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.api.test_review import add_item
from tests.conftest import TEST_SECRET_KEY
from voice_agent.store.review import create_token

COUNTS: dict[str, int] = {}
KWARG_KEYS: set[str] = set()
STATUSES: dict[str, dict[int, int]] = {}
SEEDED = 12


def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ("localhost", "127.0.0.1", "::1", None):
            raise socket.gaierror(socket.EAI_NONAME, f"refused in this test: {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not str(
                address[0]).startswith(("127.", "::1")):
            raise ConnectionRefusedError(f"refused in this test: {address[0]!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture
def api_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from connectors.schedule import load_businesses
    from voice_agent.api.app import create_app
    from voice_agent.config import Settings
    from voice_agent.runtime.container import Runtime
    from voice_agent.store.db import make_engine, upgrade

    _loopback_only(monkeypatch)
    s = Settings(_env_file=None, data_dir=tmp_path, env="test", twilio_auth_token="test-token",
                 secret_key=TEST_SECRET_KEY, api_docs=True, api_rate_per_s=0)
    runtime = Runtime(s)
    runtime.engine = make_engine(f"sqlite:///{tmp_path}/t.db")
    upgrade(runtime.engine)
    runtime.businesses = load_businesses(s.businesses_dir)
    runtime.ready = True
    app = create_app(s, runtime=runtime)
    app.state.fuzz_token = create_token(runtime.engine, name="fuzz-admin", role="admin")
    app.state.item_ids = itertools.cycle(
        [add_item(runtime.engine).id for _ in range(SEEDED)])
    yield app
    runtime.engine.dispose()


def _schema(app: Any) -> Any:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    return schema.include(path_regex=r"^/(admin|review)/").exclude(
        path="/admin/connectors/{business}/test")


def _labels() -> list[str]:
    """The operations, read from the OpenAPI document of an app built only for this."""
    from voice_agent.api.app import create_app
    from voice_agent.config import Settings
    from voice_agent.runtime.container import Runtime

    s = Settings(_env_file=None, env="test", secret_key=TEST_SECRET_KEY, api_docs=True,
                 twilio_auth_token="test-token", data_dir=tempfile.mkdtemp(prefix="va-schema-"))
    app = create_app(s, runtime=Runtime(s))
    return sorted(r.ok().label for r in _schema(app).get_all_operations())


LABELS = _labels()


def test_every_admin_and_review_operation_is_fuzzed() -> None:
    assert len(LABELS) >= 12, LABELS  # the schema was read and the filters kept the APIs
    assert {"POST /review/items/{item_id}/approve", "PUT /admin/connectors/{business}"} <= set(
        LABELS)


def _for_httpx(kwargs: dict[str, Any]) -> dict[str, Any]:
    """schemathesis' requests-style arguments, for the app's own (httpx) TestClient."""
    out = dict(kwargs)
    data = out.pop("data", None)
    if isinstance(data, bytes | str):
        out["content"] = data
    elif data is not None:
        out["data"] = data
    out.pop("timeout", None)
    out.pop("allow_redirects", None)
    out.pop("verify", None)
    return out


# schema.parametrize does not run under pytest 9 ("'Function' object has no attribute
# '_nodeid'") and case.call()'s ASGI transport not with urllib3-future in this environment
# ("'TrafficPolice' object has no attribute 'keys'"), so each operation's case strategy is
# driven by hypothesis here and the request sent with the app's own TestClient.
@pytest.mark.parametrize("label", LABELS)
def test_admin_and_review_apis_never_answer_5xx(label: str, api_app: Any) -> None:
    operation = _schema(api_app).find_operation_by_label(label)
    token = api_app.state.fuzz_token
    strategy = (operation.as_strategy(GenerationMode.POSITIVE)
                | operation.as_strategy(GenerationMode.NEGATIVE))

    client = TestClient(api_app)

    @settings(max_examples=20, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def run(case: Any) -> None:
        COUNTS[label] = COUNTS.get(label, 0) + 1
        if case.path_parameters and "item_id" in case.path_parameters and COUNTS[label] % 2:
            case.path_parameters["item_id"] = next(api_app.state.item_ids)
        kwargs = case.as_transport_kwargs(base_url="http://testserver",
                                          headers={"Authorization": f"Bearer {token}"})
        KWARG_KEYS.update(kwargs)
        response = client.request(**_for_httpx(kwargs))
        STATUSES.setdefault(label, {}).setdefault(response.status_code, 0)
        STATUSES[label][response.status_code] += 1
        case.validate_response(response,
                               checks=[not_a_server_error, response_schema_conformance])

    run()


def test_an_edit_that_cannot_be_booked_answers_a_documented_422(api_app: Any) -> None:
    """What schemathesis found: approve's own 422s had a bare string ``detail``, not the
    documented HTTPValidationError (review.py ``_unbookable``)."""
    schema = _schema(api_app)
    operation = schema.find_operation_by_label("POST /review/items/{item_id}/approve")
    client = TestClient(api_app)
    for edits in ({"service": "massage"}, {"start": "2030-01-07T10:00:00"}, {"name": ""}):
        case = schema.make_case(operation=operation,
                                path_parameters={"item_id": next(api_app.state.item_ids)},
                                body={"edits": edits}, media_type="application/json")
        kwargs = case.as_transport_kwargs(
            base_url="http://testserver",
            headers={"Authorization": f"Bearer {api_app.state.fuzz_token}"})
        response = client.request(**_for_httpx(kwargs))
        assert response.status_code == 422, (edits, response.text)
        case.validate_response(response, checks=[response_schema_conformance])


@pytest.fixture(scope="module", autouse=True)
def _report_counts() -> Iterator[None]:
    yield
    print(f"\nschemathesis cases: {sum(COUNTS.values())} over {len(COUNTS)} operations: "
          f"{COUNTS}; request arguments seen: {sorted(KWARG_KEYS)}; statuses: {STATUSES}")
