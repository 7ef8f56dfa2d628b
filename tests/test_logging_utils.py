"""PII-safe logging: phone numbers and names are masked; technical numbers are left alone."""

import logging

import pytest

from voice_agent.logging_utils import (
    PIIRedactingFilter,
    configure_logging,
    forget_pii,
    mask_name,
    mask_phone,
    mask_text,
    redact,
    remember_pii,
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


@pytest.fixture
def forget():
    forget_pii()
    yield
    forget_pii()


def test_remembered_names_are_masked_everywhere(forget) -> None:
    assert redact("booked for Dana Smith") == "booked for Dana Smith"
    remember_pii("Dana Smith", None, "", "Al")  # too short to mask safely: ignored
    assert redact("booked for dana smith, DANA SMITH.") == "booked for d*** s***, D*** S***."
    assert redact("Also Dana Smithers") == "Also Dana Smithers"  # whole words only
    record = _record("reading back %s", "Dana Smith")
    PIIRedactingFilter().filter(record)
    assert record.getMessage() == "reading back D*** S***"


@pytest.mark.parametrize(
    ("line", "masked"),
    [
        ("PiperTTSService#0: Generating TTS [Thanks Sam, see you Monday]",
         "PiperTTSService#0: Generating TTS [26 chars]"),
        ("Transcription: [my name is Sam Lee]", "Transcription: [18 chars]"),
        ("[Transcription:user] [hello there]", "[Transcription:user] [11 chars]"),
        ("PiperTTSService#0: Finished TTS [ok]", "PiperTTSService#0: Finished TTS [2 chars]"),
        ("PipelineTask#0 linking [a] -> [b]", "PipelineTask#0 linking [a] -> [b]"),
    ],
)
def test_logged_speech_is_masked(line: str, masked: str) -> None:
    assert redact(line) == masked


def test_loguru_goes_through_the_same_redaction(forget, capsys) -> None:
    """pipecat logs through loguru: its lines must come out masked like ours."""
    import sys

    from loguru import logger

    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        configure_logging("DEBUG")  # the handler binds sys.stderr now: capsys captures it
        remember_pii("Dana Smith")
        logger.info("caller Dana Smith left +15551230001 for a callback")
        logger.debug("PiperTTSService#0: Generating TTS [Great, Dana Smith, booked]")
        logger.trace("not shown at DEBUG")
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        logger.remove()
        logger.add(sys.stderr)
    err = capsys.readouterr().err
    assert "INFO tests.test_logging_utils: caller D*** S*** left ***01 for a callback" in err
    assert "Generating TTS [25 chars]" in err
    assert "Dana" not in err and "5551230001" not in err and "not shown" not in err
