"""The per-call token that binds a Media Stream to the signed webhook."""

from __future__ import annotations

import pytest

from voice_agent.telephony.stream_token import stream_token, token_valid

SECRET = "test-token"
CALL = {"call_sid": "CA0123", "business": "demo-salon", "caller": "+14155550123"}


def test_valid_token() -> None:
    token = stream_token(SECRET, **CALL)
    assert len(token) == 64 and int(token, 16) >= 0
    assert token_valid(SECRET, token, **CALL)


def test_token_is_deterministic_and_secret_dependent() -> None:
    assert stream_token(SECRET, **CALL) == stream_token(SECRET, **CALL)
    assert stream_token("other", **CALL) != stream_token(SECRET, **CALL)
    assert not token_valid("other", stream_token(SECRET, **CALL), **CALL)


@pytest.mark.parametrize(
    "changed",
    [{"call_sid": "CA9999"}, {"business": "demo-dental"}, {"caller": "+14155550100"},
     {"caller": ""}],
)
def test_token_is_bound_to_every_field(changed: dict[str, str]) -> None:
    token = stream_token(SECRET, **CALL)
    assert not token_valid(SECRET, token, **{**CALL, **changed})


def test_fields_are_not_interchangeable() -> None:
    a = stream_token(SECRET, call_sid="CA1", business="b", caller="")
    b = stream_token(SECRET, call_sid="CA1", business="", caller="b")
    assert a != b


@pytest.mark.parametrize("token", [None, "", "0" * 64, "not-hex", "A" * 64, "é" * 64, "\x00"])
def test_invalid_tokens(token: str | None) -> None:
    assert not token_valid(SECRET, token, **CALL)


def test_uppercase_token_is_not_accepted() -> None:
    assert not token_valid(SECRET, stream_token(SECRET, **CALL).upper(), **CALL)
