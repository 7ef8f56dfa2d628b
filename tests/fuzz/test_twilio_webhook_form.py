"""Hypothesis: arbitrary form bodies and header values on the Twilio voice webhook.

Half of the bodies are signed with the test auth token, so they get past the signature
check into the handler's own parsing; none may produce a 5xx.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

PATH = "/telephony/twilio/voice"
FIELDS = ["CallSid", "AccountSid", "From", "To", "CallStatus", "StirVerstat", "Direction"]
CASES = {"webhook": 0}
STATUSES: dict[int, int] = {}

field_values = st.text(max_size=80) | st.sampled_from(
    ["CA0123456789abcdef0123456789abcdef", "+14155550123", "", "\x00", "ringing"])
forms = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=20), field_values,
                        max_size=8)
header_values = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E),
                        max_size=120)
queries = st.fixed_dictionaries({}, optional={
    "business": st.sampled_from(["demo-salon", "nope", ""]) | st.text(max_size=60),
    "now": st.sampled_from(["2026-11-23T09:00:00-05:00", "2026-13-45", ""]) | st.text(max_size=50),
})


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """As tests/conftest.py ``make_client``, once for the module (one app for all examples)."""
    from fastapi.testclient import TestClient

    from connectors.schedule import load_businesses
    from tests.conftest import TEST_SECRET_KEY
    from voice_agent.api.app import create_app
    from voice_agent.config import Settings
    from voice_agent.runtime.container import Runtime
    from voice_agent.store.db import make_engine, upgrade

    tmp = tmp_path_factory.mktemp("webhook")
    settings_ = Settings(_env_file=None, data_dir=tmp, env="test", twilio_auth_token="test-token",
                         secret_key=TEST_SECRET_KEY, webhook_rate_per_s=0,
                         max_concurrent_calls=1000)
    runtime = Runtime(settings_)
    runtime.engine = make_engine(f"sqlite:///{tmp}/t.db")
    upgrade(runtime.engine)
    runtime.businesses = load_businesses(settings_.businesses_dir)
    runtime.ready = True
    with TestClient(create_app(settings_, runtime=runtime)) as c:
        yield c
    runtime.engine.dispose()


@settings(max_examples=250, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(form=forms, raw=st.none() | st.binary(max_size=300), query=queries, sign=st.booleans(),
       signature=header_values, extra=st.dictionaries(
           st.sampled_from(["Content-Type", "X-Forwarded-For", "Host", "User-Agent",
                            "Content-Encoding", "I-Twilio-Idempotency-Token"]),
           header_values, max_size=3))
@example(form={"CallSid": "CA1"}, raw=None, query={"now": "9999-99"}, sign=True,
         signature="", extra={})
@example(form={}, raw=b"%ff%fe=%00&&=", query={}, sign=True, signature="", extra={})
def test_the_webhook_never_answers_5xx(client: Any, form: dict[str, str], raw: bytes | None,
                                       query: dict[str, str], sign: bool, signature: str,
                                       extra: dict[str, str]) -> None:
    CASES["webhook"] += 1
    url = f"http://testserver{PATH}" + (f"?{urlencode(query)}" if query else "")
    body = raw if raw is not None else urlencode(form).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", **extra}
    if sign and raw is None:
        signature = RequestValidator("test-token").compute_signature(url, form)
    headers["X-Twilio-Signature"] = signature
    resp = client.post(url, content=body, headers=headers)
    assert resp.status_code < 500, (resp.status_code, resp.text[:200])
    STATUSES[resp.status_code] = STATUSES.get(resp.status_code, 0) + 1


@pytest.fixture(scope="module", autouse=True)
def _report_counts():
    yield
    print(f"\nfuzz cases: {CASES}, statuses: {STATUSES}")
    assert STATUSES.get(200), "no example got past the signature check"
