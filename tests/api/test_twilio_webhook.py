"""The signed Twilio voice webhook: signature checks, limits and the TwiML it answers."""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from datetime import datetime

import pytest
from twilio.request_validator import RequestValidator

PATH = "/telephony/twilio/voice"
URL = f"http://testserver{PATH}?business=demo-salon"
CALLER = "+14155550123"
PARAMS = {
    "CallSid": "CA0123456789abcdef0123456789abcdef",
    "AccountSid": "AC00000000000000000000000000000000",
    "From": CALLER,
    "To": "+14155550999",
    "CallStatus": "ringing",
}


def sign(url: str, params: dict[str, str], token: str = "test-token") -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, params)}


def stream_of(twiml: str) -> tuple[ET.Element, dict[str, str]]:
    root = ET.fromstring(twiml)
    assert root.tag == "Response"
    stream = root.find("./Connect/Stream")
    assert stream is not None, twiml
    params = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    return stream, params


def grant_of(client, twiml: str):
    """The server-side grant behind the one-time token in the TwiML's stream URL."""
    stream, _ = stream_of(twiml)
    token = stream.get("url").rsplit("/", 1)[-1]
    return token, client.runtime.stream_tokens.peek(token)


def assert_hangup(resp) -> None:
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(resp.text)
    assert root.find("Hangup") is not None
    assert root.find("Connect") is None


def test_signed_request_answers_with_a_media_stream(make_client) -> None:
    with make_client() as client:
        resp = client.post(URL, data=PARAMS, headers=sign(URL, PARAMS))
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("application/xml")
        stream, params = stream_of(resp.text)
        token, grant = grant_of(client, resp.text)
    # the token rides in the path (Twilio drops query strings), nothing else on the wire
    assert stream.get("url") == f"ws://testserver/telephony/twilio/media/{token}"
    assert params == {}
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
    assert grant is not None and grant.url == stream.get("url")
    assert (grant.call_sid, grant.business, grant.caller, grant.attestation, grant.now) == (
        PARAMS["CallSid"], "demo-salon", CALLER, "", None)


def test_every_call_gets_a_fresh_random_token(make_client) -> None:
    with make_client() as client:
        tokens = {grant_of(client, client.post(URL, data=PARAMS,
                                               headers=sign(URL, PARAMS)).text)[0]
                  for _ in range(3)}
    assert len(tokens) == 3  # same call, same request: still not derivable from its fields


def test_the_caller_id_attestation_is_bound_to_the_grant(make_client) -> None:
    params_in = PARAMS | {"StirVerstat": "TN-Validation-Passed-A"}
    with make_client() as client:
        resp = client.post(URL, data=params_in, headers=sign(URL, params_in))
        _, grant = grant_of(client, resp.text)
    assert grant.attestation == "TN-Validation-Passed-A"


def test_default_business_when_none_is_given(make_client) -> None:
    url = f"http://testserver{PATH}"
    with make_client() as client:
        resp = client.post(url, data=PARAMS, headers=sign(url, PARAMS))
        assert grant_of(client, resp.text)[1].business == "demo-salon"


def test_pinned_clock_is_bound_to_the_grant_outside_prod(make_client) -> None:
    url = URL + "&now=2026-12-05T10:00:00-05:00"
    with make_client() as client:
        resp = client.post(url, data=PARAMS, headers=sign(url, PARAMS))
        assert resp.status_code == 200
        _, grant = grant_of(client, resp.text)
    assert grant.now == datetime.fromisoformat("2026-12-05T10:00:00-05:00")
    assert "now" not in stream_of(resp.text)[1]  # not a parameter a stream could rewrite


def test_pinned_clock_is_dropped_in_prod(make_client) -> None:
    url = URL + "&now=2026-12-05T10:00:00-05:00"
    with make_client(env="prod", twilio_auth_token="prod-token") as client:
        resp = client.post(url, data=PARAMS, headers=sign(url, PARAMS, "prod-token"))
        assert resp.status_code == 200
        _, grant = grant_of(client, resp.text)
    assert grant is not None and grant.now is None


def test_a_webhook_without_a_call_sid_gets_no_stream(make_client) -> None:
    params = {k: v for k, v in PARAMS.items() if k != "CallSid"}
    with make_client() as client:
        resp = client.post(URL, data=params, headers=sign(URL, params))
        assert len(client.runtime.stream_tokens) == 0
    assert_hangup(resp)


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="missing"),
        pytest.param({"X-Twilio-Signature": ""}, id="empty"),
        pytest.param({"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}, id="wrong"),
        pytest.param(sign(URL, PARAMS, "another-token"), id="other-token"),
        pytest.param(sign(URL.replace("demo-salon", "demo-dental"), PARAMS), id="other-url"),
        pytest.param(sign("https://testserver" + PATH + "?business=demo-salon", PARAMS),
                     id="other-scheme"),
        pytest.param(sign(URL, {**PARAMS, "From": "+14155550100"}), id="tampered-body"),
        pytest.param(sign(URL, {k: v for k, v in PARAMS.items() if k != "To"}),
                     id="added-param"),
    ],
)
def test_bad_signature_is_rejected(make_client, caplog, headers) -> None:
    caplog.set_level(logging.INFO)
    with make_client() as client:
        resp = client.post(URL, data=PARAMS, headers=headers)
    assert resp.status_code == 403
    assert "Connect" not in resp.text
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("signature" in r.getMessage().lower() for r in warnings)


def test_oversized_body_is_rejected(make_client) -> None:
    params = {**PARAMS, "Padding": "x" * (16 * 1024)}
    with make_client() as client:
        resp = client.post(URL, data=params, headers=sign(URL, params))
    assert resp.status_code == 413


def test_body_at_the_limit_is_accepted(make_client) -> None:
    base = "&".join(f"{k}={v}" for k, v in PARAMS.items())
    params = {**PARAMS, "Padding": "x" * (16 * 1024 - len(base) - len("&Padding=") - 10)}
    with make_client() as client:
        resp = client.post(URL, data=params, headers=sign(URL, params))
    assert resp.status_code == 200


def test_unknown_business_hangs_up(make_client) -> None:
    url = f"http://testserver{PATH}?business=no-such-business"
    with make_client() as client:
        resp = client.post(url, data=PARAMS, headers=sign(url, PARAMS))
    assert_hangup(resp)


def test_not_ready_hangs_up(make_client) -> None:
    with make_client(ready=False) as client:
        resp = client.post(URL, data=PARAMS, headers=sign(URL, PARAMS))
    assert_hangup(resp)


def test_unknown_business_still_needs_a_signature(make_client) -> None:
    with make_client() as client:
        resp = client.post(f"{PATH}?business=no-such-business", data=PARAMS)
    assert resp.status_code == 403


def test_caller_number_never_logged_in_full(make_client, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    with make_client() as client:
        ok = client.post(URL, data=PARAMS, headers=sign(URL, PARAMS))
        bad = client.post(URL, data=PARAMS, headers={"X-Twilio-Signature": "nope"})
    assert (ok.status_code, bad.status_code) == (200, 403)
    ours = [r for r in caplog.records if r.name.startswith("voice_agent")]
    assert any("incoming call" in r.getMessage() for r in ours)
    digits = CALLER.lstrip("+")
    for record in caplog.records:
        message = record.getMessage()
        assert CALLER not in message and digits not in message, message


def test_signature_checked_against_the_public_url_behind_a_proxy(make_client) -> None:
    public = "https://agent.example.com" + PATH + "?business=demo-salon"
    with make_client(public_url="https://agent.example.com") as client:
        resp = client.post(URL, data=PARAMS, headers=sign(public, PARAMS))
        direct = client.post(URL, data=PARAMS, headers=sign(URL, PARAMS))
    assert resp.status_code == 200
    stream, _ = stream_of(resp.text)
    assert stream.get("url").startswith("wss://agent.example.com/telephony/twilio/media/")
    # The internal URL is not what Twilio signed behind the proxy.
    assert direct.status_code == 403


def test_above_the_admission_limit_the_caller_hears_lines_are_busy(make_client) -> None:
    """Admitted at the webhook (before the stream opens), so a burst of calls cannot all be
    told yes; a retried webhook for an admitted call keeps its place."""
    with make_client() as client:
        limit = client.runtime.admission.limit
        sids = [f"CA{i:032d}" for i in range(limit + 1)]
        answers = []
        for sid in sids:
            params = {**PARAMS, "CallSid": sid}
            answers.append(client.post(URL, data=params, headers=sign(URL, params)))
        retry = {**PARAMS, "CallSid": sids[0]}
        again = client.post(URL, data=retry, headers=sign(URL, retry))
        ready = client.get("/readyz")
    for resp in answers[:limit]:
        stream_of(resp.text)
    assert_hangup(answers[limit])
    assert "lines are busy" in answers[limit].text
    stream_of(again.text)
    assert ready.status_code == 503 and ready.json()["at_capacity"] is True


def test_a_draining_worker_turns_new_calls_away(make_client) -> None:
    with make_client() as client:
        client.runtime.draining = True
        resp = client.post(URL, data=PARAMS, headers=sign(URL, PARAMS))
        ready = client.get("/readyz")
    assert_hangup(resp)
    assert "lines are busy" in resp.text
    assert ready.status_code == 503 and ready.json()["draining"] is True
