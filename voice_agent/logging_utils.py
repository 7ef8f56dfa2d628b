"""PII-safe logging: phone numbers and names are masked in log lines.

Full values live only in the database, behind authentication. One redaction serves every log
line: our own (stdlib ``logging``) and pipecat's (loguru, forwarded into ``logging`` by
:func:`configure_logging`). It masks phone-number-like digit runs, the names callers gave on
calls in this process (:func:`remember_pii`), and the spoken text pipecat logs at DEBUG
(``Generating TTS [...]``, ``Transcription: [...]``), which can hold anything a caller said.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict

# 7-15 digits with space, hyphen or parenthesis separators; not IPs, ports or ISO dates.
_PHONE = re.compile(
    r"(?<![\w.:/-])(?!\d{4}-\d{2}-\d{2})\+?\(?\d(?:[\s\-()]{0,2}\d){6,14}(?![\w:/]|\.\d)"
)


def mask_phone(value: str | None) -> str:
    if not value:
        return ""
    digits = re.sub(r"\D", "", value)
    return f"***{digits[-2:]}" if len(digits) > 2 else "***"


def mask_name(value: str | None) -> str:
    if not value:
        return ""
    return " ".join(w[:1] + "***" for w in value.split())


def mask_text(text: str | None) -> str:
    """Mask anything that looks like a phone number inside free text."""
    if not text:
        return ""
    return _PHONE.sub(lambda m: mask_phone(m.group(0)), text)


# "…TTS [text]", "Transcription: [text]", "[Transcription:user] [text]": the payload goes.
_SPOKEN = re.compile(r"((?:TTS|[Tt]ranscription)\b[^\[\n]{0,40}\[)([^\]\n]+)(\])")
_MAX_KNOWN = 2048
_known: OrderedDict[str, None] = OrderedDict()
_known_lock = threading.Lock()
_known_pattern: re.Pattern[str] | None = None


def remember_pii(*values: str | None) -> None:
    """Mask these values (a caller's name) in every later log line of this process.

    The most recent ``_MAX_KNOWN`` values are kept; values under 3 characters are ignored
    (they would mask ordinary words)."""
    global _known_pattern
    fresh = [v.strip() for v in values if v and len(v.strip()) >= 3]
    if not fresh:
        return
    with _known_lock:
        for value in fresh:
            _known[value.casefold()] = None
            _known.move_to_end(value.casefold())
        while len(_known) > _MAX_KNOWN:
            _known.popitem(last=False)
        words = sorted(_known, key=len, reverse=True)
        _known_pattern = re.compile(
            r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + r")(?!\w)", re.IGNORECASE)


def forget_pii() -> None:
    """Forget every remembered value (tests)."""
    global _known_pattern
    with _known_lock:
        _known.clear()
        _known_pattern = None


def redact(text: str) -> str:
    """A log line with phone numbers, remembered names and logged speech masked."""
    text = mask_text(text)
    text = _SPOKEN.sub(lambda m: f"{m.group(1)}{len(m.group(2))} chars{m.group(3)}", text)
    pattern = _known_pattern
    if pattern is not None:
        text = pattern.sub(lambda m: mask_name(m.group(0)), text)
    return text


class PIIRedactingFilter(logging.Filter):
    """Masks phone numbers, remembered names and logged speech in every log message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(PIIRedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpx2", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    route_loguru()


def _loguru_to_logging(message: object) -> None:
    record = message.record  # type: ignore[attr-defined]
    exc = record["exception"]
    exc_info = (exc.type, exc.value, exc.traceback) if exc is not None else None
    logger = logging.getLogger(record["name"] or "loguru")
    level = record["level"].no
    if logger.isEnabledFor(level):
        logger.handle(logger.makeRecord(
            logger.name, level, record["file"].path, record["line"], record["message"], (),
            exc_info, record["function"]))


def route_loguru() -> bool:
    """Send loguru's records (pipecat logs through loguru) into ``logging``, so they pass the
    same PII filter and handler as ours instead of loguru's own stderr sink. False when
    loguru is not installed (no pipeline extra)."""
    try:
        from loguru import logger
    except ImportError:
        return False
    logger.remove()
    # diagnose=False: loguru's tracebacks would otherwise print local variables' values.
    logger.add(_loguru_to_logging, level=logging.getLogger().getEffectiveLevel(),
               format="{message}", backtrace=False, diagnose=False)
    return True
