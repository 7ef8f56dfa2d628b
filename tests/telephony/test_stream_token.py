"""One-time stream tokens: random, single-use, short-lived, bound server-side to the call."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from voice_agent.telephony.stream_token import MAX_TOKEN_CHARS, StreamTokens

CALL = {"call_sid": "CA123", "business": "demo-salon", "caller": "+15551230001",
        "attestation": "TN-Validation-Passed-A"}
BASE = "wss://agent.example.com/telephony/twilio/media/"


class Clock:
    """A deterministic monotonic clock."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def issue(tokens: StreamTokens, **fields: object):
    grant = tokens.issue(**{**CALL, **fields}, url_for=lambda token: BASE + token)
    return grant.url.removeprefix(BASE), grant


def test_a_grant_holds_everything_the_call_is_bound_to() -> None:
    pinned = datetime(2026, 12, 1, 9, tzinfo=UTC)
    token, grant = issue(StreamTokens(ttl_s=30), now=pinned)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
    assert (grant.call_sid, grant.business, grant.caller, grant.attestation, grant.now) == (
        "CA123", "demo-salon", "+15551230001", "TN-Validation-Passed-A", pinned)
    assert grant.url == BASE + token


def test_tokens_are_random_not_derived_from_the_call() -> None:
    tokens = StreamTokens(ttl_s=30)
    assert issue(tokens)[0] != issue(tokens)[0]
    assert issue(StreamTokens(ttl_s=30))[0] != issue(StreamTokens(ttl_s=30))[0]


def test_a_token_is_single_use() -> None:
    tokens = StreamTokens(ttl_s=30)
    token, grant = issue(tokens)
    assert tokens.peek(token) == grant  # peeking does not use it up
    assert tokens.redeem(token) == grant
    assert tokens.redeem(token) is None and tokens.peek(token) is None
    assert len(tokens) == 0


def test_a_token_expires_after_its_ttl() -> None:
    clock = Clock()
    tokens = StreamTokens(ttl_s=5, clock=clock)
    token, grant = issue(tokens)
    clock.t += 4.9
    assert tokens.peek(token) == grant
    clock.t += 0.1
    assert tokens.redeem(token) is None
    assert len(tokens) == 0


@pytest.mark.parametrize("token", ["", "x", "A" * 43, "A" * (MAX_TOKEN_CHARS + 1)])
def test_unknown_tokens_find_nothing(token: str) -> None:
    tokens = StreamTokens(ttl_s=30)
    issue(tokens)
    assert tokens.peek(token) is None and tokens.redeem(token) is None


def test_expired_grants_are_pruned_when_new_ones_are_issued() -> None:
    clock = Clock()
    tokens = StreamTokens(ttl_s=5, clock=clock)
    for _ in range(10):
        issue(tokens)
    clock.t += 6
    issue(tokens)
    assert len(tokens) == 1


def test_the_store_is_bounded_and_drops_the_oldest() -> None:
    tokens = StreamTokens(ttl_s=30, max_pending=3)
    first, _ = issue(tokens)
    rest = [issue(tokens)[0] for _ in range(3)]
    assert len(tokens) == 3
    assert tokens.peek(first) is None
    assert all(tokens.peek(t) is not None for t in rest)


@pytest.mark.parametrize("kwargs", [{"ttl_s": 0}, {"ttl_s": 30, "max_pending": 0}])
def test_nonsense_limits_are_refused(kwargs) -> None:
    with pytest.raises(ValueError):
        StreamTokens(**kwargs)
