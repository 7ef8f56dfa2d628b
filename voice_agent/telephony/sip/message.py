"""SIP messages (RFC 3261 §7): a pure parser and serializer, no sockets.

Strict where a mistake would be dangerous and lenient where peers differ: bounded sizes
(datagram, header count, line length, body), compact header names expanded, header names
case-insensitive, folded lines joined, a Content-Length that disagrees with the datagram
refused. Anything malformed raises :class:`SipParseError`, which the transport answers with a
400 when it can route one, and silence otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_HEADERS",
    "MAX_LINE_BYTES",
    "MAX_MESSAGE_BYTES",
    "Headers",
    "SipMessage",
    "SipParseError",
    "SipRequest",
    "SipResponse",
    "header_param",
    "parse_message",
    "split_header_message",
]

MAX_MESSAGE_BYTES = 16 * 1024  # a trunk's INVITE is 1-3 kB; a datagram larger is hostile
MAX_HEADERS = 80
MAX_LINE_BYTES = 4096
MAX_BODY_BYTES = 8 * 1024

_COMPACT = {
    "i": "Call-ID", "m": "Contact", "e": "Content-Encoding", "l": "Content-Length",
    "c": "Content-Type", "f": "From", "s": "Subject", "k": "Supported", "t": "To", "v": "Via",
    "r": "Refer-To", "b": "Referred-By", "o": "Event", "u": "Allow-Events",
}
_CANONICAL = {n.lower(): n for n in (
    "Call-ID", "CSeq", "WWW-Authenticate", "Max-Forwards", "Content-Length", "Content-Type",
    "Record-Route", "Refer-To", "Referred-By", "User-Agent", "Allow-Events", "Subscription-State",
)}
_TOKEN = re.compile(r"^[A-Za-z0-9.!%*_+`'~-]+$")
_REQUEST_LINE = re.compile(r"^([A-Za-z0-9.!%*_+`'~-]+) (\S+) SIP/2\.0$")
_STATUS_LINE = re.compile(r"^SIP/2\.0 ([1-6][0-9][0-9]) ?(.*)$")


class SipParseError(ValueError):
    """The bytes are not an acceptable SIP message (the reason is safe to log)."""


def canonical_name(name: str) -> str:
    low = name.lower()
    if low in _COMPACT:
        return _COMPACT[low]
    return _CANONICAL.get(low) or "-".join(p.capitalize() for p in low.split("-"))


@dataclass
class Headers:
    """Ordered, case-insensitive, multi-valued headers."""

    items: list[tuple[str, str]] = field(default_factory=list)

    def get(self, name: str) -> str | None:
        key = canonical_name(name)
        return next((v for n, v in self.items if n == key), None)

    def get_all(self, name: str) -> list[str]:
        key = canonical_name(name)
        return [v for n, v in self.items if n == key]

    def add(self, name: str, value: str) -> None:
        self.items.append((canonical_name(name), value))

    def set(self, name: str, value: str) -> None:
        key = canonical_name(name)
        self.items = [(n, v) for n, v in self.items if n != key]
        self.items.append((key, value))

    def remove(self, name: str) -> None:
        key = canonical_name(name)
        self.items = [(n, v) for n, v in self.items if n != key]


@dataclass
class SipMessage:
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    @property
    def call_id(self) -> str:
        return self.headers.get("Call-ID") or ""

    @property
    def cseq(self) -> tuple[int, str]:
        raw = (self.headers.get("CSeq") or "").split()
        if len(raw) != 2 or not raw[0].isdigit() or len(raw[0]) > 10:
            raise SipParseError("bad CSeq")
        return int(raw[0]), raw[1].upper()

    @property
    def top_via(self) -> str:
        return (self.headers.get("Via") or "").split(",")[0].strip()

    @property
    def branch(self) -> str:
        return header_param(self.top_via, "branch") or ""

    @property
    def from_tag(self) -> str:
        return header_param(self.headers.get("From") or "", "tag") or ""

    @property
    def to_tag(self) -> str:
        return header_param(self.headers.get("To") or "", "tag") or ""

    def _head_and_body(self, start: str) -> bytes:
        self.headers.set("Content-Length", str(len(self.body)))
        lines = [start, *(f"{n}: {v}" for n, v in self.headers.items)]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


@dataclass
class SipRequest(SipMessage):
    method: str = ""
    uri: str = ""

    def to_bytes(self) -> bytes:
        return self._head_and_body(f"{self.method} {self.uri} SIP/2.0")


@dataclass
class SipResponse(SipMessage):
    status: int = 200
    reason: str = "OK"

    def to_bytes(self) -> bytes:
        return self._head_and_body(f"SIP/2.0 {self.status} {self.reason}")


def header_param(value: str, name: str) -> str | None:
    """A ``;name=value`` parameter of a header value (outside any ``<...>`` URI)."""
    rest = value.rsplit(">", 1)[-1] if ">" in value else value
    for part in rest.split(";")[1:]:
        key, _, val = part.strip().partition("=")
        if key.strip().lower() == name.lower():
            return val.strip().strip('"')
    return None


def split_header_message(data: bytes) -> tuple[bytes, bytes] | None:
    """(head, rest) at the first blank line, or None when the head is not complete yet."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    return data[:end], data[end + 4:]


def parse_message(data: bytes, *, stream: bool = False,
                  headers_only: bool = False) -> SipRequest | SipResponse:
    """Parse one whole message. Over a datagram (``stream=False``) the body is the rest of the
    datagram and must match Content-Length (RFC 3261 §18.3: a shorter body is an error, extra
    bytes are discarded); over a stream the caller has already framed it by Content-Length."""
    if len(data) > MAX_MESSAGE_BYTES + MAX_BODY_BYTES:
        raise SipParseError("message too large")
    data = data.lstrip(b"\r\n")  # keep-alive CRLFs before a message are allowed
    split = split_header_message(data)
    if split is None:
        raise SipParseError("no end of headers")
    head, body = split
    if len(head) > MAX_MESSAGE_BYTES:
        raise SipParseError("headers too large")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise SipParseError("headers are not UTF-8") from None
    lines = text.split("\r\n")
    start, raw_headers = lines[0], lines[1:]
    message = _start_line(start)
    unfolded: list[str] = []
    for line in raw_headers:
        if len(line) > MAX_LINE_BYTES:
            raise SipParseError("header line too long")
        if line[:1] in (" ", "\t") and unfolded:
            unfolded[-1] += " " + line.strip()
        else:
            unfolded.append(line)
    if len(unfolded) > MAX_HEADERS:
        raise SipParseError("too many headers")
    for line in unfolded:
        name, sep, value = line.partition(":")
        name = name.strip()
        if not sep or not _TOKEN.match(name):
            raise SipParseError("malformed header line")
        if any(ord(c) < 32 and c != "\t" for c in value):
            raise SipParseError("control character in a header")
        message.headers.add(name, value.strip())
    if not headers_only:
        message.body = _body(message, body, stream=stream)
    return message


def _start_line(line: str) -> SipRequest | SipResponse:
    if m := _REQUEST_LINE.match(line):
        if len(m.group(2)) > MAX_LINE_BYTES // 2:
            raise SipParseError("request URI too long")
        return SipRequest(method=m.group(1).upper(), uri=m.group(2))
    if m := _STATUS_LINE.match(line):
        return SipResponse(status=int(m.group(1)), reason=m.group(2)[:128])
    raise SipParseError("malformed start line")


def _body(message: SipMessage, body: bytes, *, stream: bool) -> bytes:
    declared = message.headers.get("Content-Length")
    if declared is None:
        if stream and body:
            raise SipParseError("Content-Length required over a stream")
        length = len(body)
    elif not declared.isdigit() or len(declared) > 6:
        raise SipParseError("bad Content-Length")
    else:
        length = int(declared)
    if length > MAX_BODY_BYTES:
        raise SipParseError("body too large")
    if length > len(body):
        raise SipParseError("body shorter than Content-Length")
    return body[:length]
