"""PII-safe logging: phone numbers and names are masked in log lines.

Full values live only in the database, behind authentication.
"""

from __future__ import annotations

import logging
import re

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


class PIIRedactingFilter(logging.Filter):
    """Masks phone-number-like digit runs in every formatted log message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_text(message)
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
