"""Limits at the edge: body size (declared and streamed), JSON shape and per-IP rate limits,
all enforced before routing, parsing and authentication."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from fastapi.testclient import TestClient

from tests.api.real_server import real_server
from voice_agent.api.json_shape import json_shape_error
from voice_agent.api.rate_limit import RateLimiter, Rule, TokenBucket

ADMIN = "/admin/connectors"
WEBHOOK = "/telephony/twilio/voice"


# -- JSON shape ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'{"a": [1, 2, {"b": "c"}]}', None),
        (b'"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["', None),  # brackets inside a string
        (b'{"k": "quote \\" [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', None),
        (b"[" * 9 + b"]" * 9, None),
        (b"[" * 11 + b"]" * 11, "JSON nested deeper than 10 levels"),
        (b"[" * 100_000, "JSON nested deeper than 10 levels"),
        (json.dumps(list(range(50))).encode(), None),
        (json.dumps(list(range(52))).encode(), "JSON with more than 50 members"),
        (json.dumps({str(i): i for i in range(26)}).encode(), "JSON with more than 50 members"),
    ],
)
def test_json_shape(body: bytes, problem: str | None) -> None:
    assert json_shape_error(body, max_depth=10, max_members=50) == problem


# -- token buckets ---------------------------------------------------------------------------


def test_a_bucket_allows_its_burst_then_refills_at_its_rate() -> None:
    bucket = TokenBucket(rate=2.0, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(0.5)
    assert bucket.take(0.5) == 0.0  # one token back after 1/rate
    assert bucket.take(0.5) > 0
    assert [bucket.take(100.0) for _ in range(3)] == [0.0] * 3  # never more than the burst
    assert bucket.take(100.0) > 0


def test_the_limiter_keeps_one_bucket_per_rule_and_ip() -> None:
    now = [0.0]
    limiter = RateLimiter([Rule("hook", ("/hook",), 1.0, 2), Rule("api", ("/admin",), 1.0, 1)],
                          clock=lambda: now[0])
    assert [limiter.check("/hook", "1.1.1.1") for _ in range(3)][:2] == [0.0, 0.0]
    assert limiter.check("/hook", "1.1.1.1") > 0
    assert limiter.check("/hook", "2.2.2.2") == 0.0  # another address, another bucket
    assert limiter.check("/admin/x", "1.1.1.1") == 0.0  # another rule, another bucket
    assert limiter.check("/admin/x", "1.1.1.1") > 0
    assert limiter.check("/adminx", "1.1.1.1") == 0.0  # a prefix is a path segment
    assert limiter.check("/healthz", "1.1.1.1") == 0.0


def test_the_limiter_is_bounded() -> None:
    limiter = RateLimiter([Rule("api", ("/admin",), 1.0, 1)], max_clients=2)
    for ip in ("a", "b", "c"):
        limiter.check("/admin", ip)
    assert len(limiter._buckets["api"]) == 2


# -- through the app -------------------------------------------------------------------------


def test_a_declared_oversized_body_is_413_before_auth(make_client) -> None:
    with make_client() as client:
        resp = client.post(ADMIN, content=b"{" + b" " * (20 * 1024 * 1024) + b"}",
                           headers={"content-type": "application/json"})
    assert resp.status_code == 413  # not 401: nothing was read, nothing authenticated


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("[" * 5000 + "]" * 5000, id="deep"),
        pytest.param(json.dumps({"kind": "caldav",
                                 "settings": {f"k{i}": i for i in range(3000)}}), id="wide"),
    ],
)
def test_a_json_bomb_is_400_before_parsing_and_auth(make_client, body: str) -> None:
    with make_client() as client:
        resp = client.post(ADMIN, content=body, headers={"content-type": "application/json"})
    assert resp.status_code == 400
    assert "JSON" in resp.text


def test_a_json_body_within_limits_reaches_the_route(make_client) -> None:
    with make_client() as client:
        resp = client.post(ADMIN, json={"business": "demo-salon", "kind": "builtin"})
    assert resp.status_code == 401  # parsed fine, then refused by auth as before


def test_the_api_is_rate_limited_per_ip(make_client) -> None:
    app = make_client(api_rate_per_s=0.01, api_rate_burst=3).app
    with TestClient(app, client=("198.51.100.1", 1)) as one, \
            TestClient(app, client=("198.51.100.2", 1)) as two:
        assert [one.get(ADMIN).status_code for _ in range(3)] == [401] * 3
        limited = one.get(ADMIN)
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert one.get("/review/items").status_code == 429  # one bucket for the operator API
        assert two.get(ADMIN).status_code == 401
        assert one.get("/healthz").status_code == 200  # probes are never limited


def test_the_webhook_is_rate_limited_per_ip(make_client) -> None:
    with make_client(webhook_rate_per_s=0.01, webhook_rate_burst=2) as client:
        codes = [client.post(WEBHOOK, data={"CallSid": "CA1"}).status_code for _ in range(3)]
    assert codes == [403, 403, 429]


# -- over a real server ----------------------------------------------------------------------


async def _exchange(host: str, head: bytes, chunks: list[bytes], pause_s: float = 0.0,
                    timeout_s: float = 3.0) -> tuple[bytes, float]:
    """Send a raw request (head, then chunks) and read the answer; (status line, seconds)."""
    ip, port = host.split(":")
    reader, writer = await asyncio.open_connection(ip, int(port))
    t0 = time.monotonic()
    try:
        writer.write(head)
        for chunk in chunks:
            writer.write(chunk)
            await writer.drain()
            if pause_s:
                await asyncio.sleep(pause_s)
        async with asyncio.timeout(timeout_s):
            status = await reader.readline()
        return status.strip(), time.monotonic() - t0
    finally:
        writer.close()


async def test_a_declared_gigabyte_is_answered_413_at_once(make_client) -> None:
    async with real_server(make_client().app) as host:
        head = (f"POST {WEBHOOK} HTTP/1.1\r\nHost: {host}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                f"Content-Length: {1024 ** 3}\r\n\r\n").encode()
        status, seconds = await _exchange(host, head, [b"CallSid=CA1&"])
    assert status == b"HTTP/1.1 413 Request Entity Too Large"
    assert seconds < 2


@pytest.mark.parametrize(
    ("path", "content_type", "limit"),
    [
        pytest.param(WEBHOOK, "application/x-www-form-urlencoded", 16 * 1024, id="webhook"),
        pytest.param(ADMIN, "application/json", 64 * 1024, id="admin-json"),
        pytest.param(ADMIN, "text/plain", 64 * 1024, id="admin-other"),
    ],
)
async def test_a_chunked_body_is_cut_off_when_it_passes_the_limit(make_client, path,
                                                                 content_type, limit) -> None:
    async with real_server(make_client().app) as host:
        head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
                "Transfer-Encoding: chunked\r\n\r\n").encode()
        piece = b"a" * 4096
        chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        # a little over the limit, and never the terminating chunk: the answer must not wait
        n = limit // len(piece) + 2
        status, seconds = await _exchange(host, head, [chunk] * n, pause_s=0.002)
    assert status == b"HTTP/1.1 413 Request Entity Too Large"
    assert seconds < 2
