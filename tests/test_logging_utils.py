"""PII-safe logging: phone numbers and names are masked; technical numbers are left alone."""

import logging

import pytest

from voice_agent.logging_utils import (
    PIIRedactingFilter,
    configure_logging,
    mask_name,
    mask_phone,
    mask_text,
)


def test_mask_phone() -> None:
    assert mask_phone("+15551230001") == "***01"
    assert mask_phone("(555) 123-4567") == "***67"
    assert mask_phone("12") == "***"
    assert mask_phone("") == ""
    assert mask_phone(None) == ""


def test_mask_name() -> None:
    assert mask_name("Dana Smith") == "D*** S***"
    assert mask_name("  Dana   Smith ") == "D*** S***"
    assert mask_name("") == ""
    assert mask_name(None) == ""


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("caller +15551230001 booked", "caller ***01 booked"),
        ("call from +1 555 123 0001 ok", "call from ***01 ok"),
        ("(555) 123-4567", "***67"),
        ("phone=5551230001", "phone=***01"),
        ("number 020 7946 0958", "number ***58"),
        ("tel: +44 20 7946 0958, thanks", "tel: ***58, thanks"),
        ("two: +15551230001 and +15559870002", "two: ***01 and ***02"),
    ],
)
def test_mask_text_masks_phones(text: str, masked: str) -> None:
    assert mask_text(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "server 10.0.0.1:8080",
        "127.0.0.1",
        "listening on port 5060",
        "http://10.1.2.3:8000/v1",
        "date 2026-12-01",
        "at 2026-12-01T15:00:00-05:00",
        "uuid 3f2a9c1e-1234-4567-89ab-0123456789ab",
        "took 12.5 ms, 3 retries",
        "",
    ],
)
def test_mask_text_leaves_technical_numbers(text: str) -> None:
    assert mask_text(text) == text


def test_mask_text_none() -> None:
    assert mask_text(None) == ""


def test_mask_text_phone_at_end_of_sentence() -> None:
    assert mask_text("My number is 555-123-4567.") == "My number is ***67."


def _record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("voice_agent.test", logging.INFO, __file__, 1, msg, args, None)


def test_filter_masks_formatted_message() -> None:
    record = _record("callback for %s about %s", "+15551230001", "a haircut")
    assert PIIRedactingFilter().filter(record) is True
    assert record.getMessage() == "callback for ***01 about a haircut"
    assert record.args is None


def test_filter_leaves_clean_records_untouched() -> None:
    record = _record("listening on %s:%d", "10.0.0.1", 8080)
    assert PIIRedactingFilter().filter(record) is True
    assert record.msg == "listening on %s:%d" and record.args == ("10.0.0.1", 8080)
    assert record.getMessage() == "listening on 10.0.0.1:8080"


def test_configure_logging_installs_the_filter() -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        configure_logging("DEBUG")
        [handler] = root.handlers
        assert any(isinstance(f, PIIRedactingFilter) for f in handler.filters)
        assert root.level == logging.DEBUG
        assert logging.getLogger("httpx").level == logging.WARNING
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
