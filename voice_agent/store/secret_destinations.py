"""Where a connector's settings send its secrets, and what of them may go into the audit log.

A connector sends its secrets (a CalDAV password, an API key, an auth header) to the servers
its settings name. So an update whose settings name a server the stored settings did not
(a new scheme, host or port anywhere in them: ``calendar_url``, ``base_url``, one staff
member's calendar...) must not reuse the stored secrets: whoever changes where they go must
know them. A new path on a server already named is no new destination.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = ["audit_value", "destinations", "new_destination_fields"]


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _origin(text: str) -> str | None:
    if "://" not in text:
        return None
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:  # a malformed port: treat the whole authority as the destination
        return text.strip().lower()
    if not parts.scheme or not parts.hostname:
        return None
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return f"{parts.scheme.lower()}://{parts.hostname.lower()}:{port or default}"


def destinations(value: Any) -> set[str]:
    """Every ``scheme://host:port`` named anywhere in ``value`` (nested dicts and lists)."""
    return {o for s in _strings(value) if (o := _origin(s)) is not None}


def new_destination_fields(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The top-level settings fields of ``new`` naming a server that ``old`` did not name."""
    known = destinations(old)
    return sorted(name for name, value in new.items() if destinations(value) - known)


def audit_value(value: Any) -> Any:
    """A settings value as the audit log keeps it: any password in a URL's userinfo dropped."""
    if isinstance(value, str) and "://" in value and "@" in value:
        try:
            parts = urlsplit(value)
            if parts.password is not None:
                host = parts.netloc.rsplit("@", 1)[1]
                return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))
        except ValueError:
            return "***"
        return value
    if isinstance(value, Mapping):
        return {k: audit_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [audit_value(v) for v in value]
    return value
