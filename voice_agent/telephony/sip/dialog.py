"""Building SIP responses and in-dialog requests (RFC 3261 §8.2.6, §12): pure functions."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import TypeVar

from voice_agent.telephony.sip.message import SipMessage, SipRequest, SipResponse, header_param

__all__ = ["ALLOW", "Dialog", "new_branch", "new_tag", "response_to", "uri_user"]

ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, REFER, NOTIFY"
USER_AGENT = "voice-agent"
_URI = re.compile(r"<([^>]*)>")
_Message = TypeVar("_Message", bound=SipMessage)


def new_tag() -> str:
    return secrets.token_hex(6)


def new_branch() -> str:
    return "z9hG4bK" + secrets.token_hex(8)


def uri_user(value: str) -> str | None:
    """The user part of a SIP URI or name-addr (``"Bob" <sip:+1555@h>;tag=x`` -> ``+1555``)."""
    m = _URI.search(value)
    uri = m.group(1) if m else value.split(";")[0].strip()
    if ":" not in uri:
        return None
    rest = uri.split(":", 1)[1]
    if "@" not in rest:
        return None
    user = rest.split("@", 1)[0].split(";")[0]
    return user[:64] or None


def response_to(request: SipRequest, status: int, reason: str, *, to_tag: str | None = None,
                body: bytes = b"", content_type: str | None = None,
                extra: list[tuple[str, str]] | None = None) -> SipResponse:
    """A response copying Via, From, To (with our tag), Call-ID and CSeq (§8.2.6.2)."""
    resp = SipResponse(status=status, reason=reason)
    for via in request.headers.get_all("Via"):
        resp.headers.add("Via", via)
    resp.headers.add("From", request.headers.get("From") or "")
    to = request.headers.get("To") or ""
    if to_tag and status > 100 and header_param(to, "tag") is None:
        to = f"{to};tag={to_tag}"
    resp.headers.add("To", to)
    resp.headers.add("Call-ID", request.call_id)
    resp.headers.add("CSeq", request.headers.get("CSeq") or "")
    resp.headers.add("Server", USER_AGENT)
    return _with_body(resp, extra, body, content_type)


def _with_body(message: _Message, extra: list[tuple[str, str]] | None, body: bytes,
               content_type: str | None) -> _Message:
    """``message`` with the extra headers, then the body and its Content-Type (an SDP unless
    said otherwise); Content-Length is written when the message is serialised."""
    for name, value in extra or []:
        message.headers.add(name, value)
    if body:
        message.headers.add("Content-Type", content_type or "application/sdp")
    message.body = body
    return message


@dataclass
class Dialog:
    """A UAS dialog (§12.1.1): its identifiers and what our own requests in it need."""

    call_id: str
    local_tag: str
    remote_tag: str
    local_uri: str  # the INVITE's To (without a tag)
    remote_uri: str  # the INVITE's From, with its tag
    remote_target: str  # the INVITE's Contact URI
    route_set: list[str] = field(default_factory=list)
    remote_cseq: int = 0
    local_cseq: int = field(default_factory=lambda: secrets.randbelow(10_000) + 1)
    via_host: str = "127.0.0.1"
    via_port: int = 5060
    transport: str = "UDP"

    @classmethod
    def from_invite(cls, invite: SipRequest, *, local_tag: str, via_host: str, via_port: int,
                    transport: str) -> Dialog:
        contact = invite.headers.get("Contact") or ""
        m = _URI.search(contact)
        target = m.group(1) if m else contact.split(";")[0].strip() or invite.uri
        return cls(
            call_id=invite.call_id, local_tag=local_tag, remote_tag=invite.from_tag,
            local_uri=invite.headers.get("To") or "", remote_uri=invite.headers.get("From") or "",
            remote_target=target, route_set=list(invite.headers.get_all("Record-Route")),
            remote_cseq=invite.cseq[0], via_host=via_host, via_port=via_port,
            transport=transport,
        )

    def matches(self, request: SipRequest) -> bool:
        return (request.call_id == self.call_id and request.to_tag == self.local_tag
                and request.from_tag == self.remote_tag)

    def request(self, method: str, *, extra: list[tuple[str, str]] | None = None,
                body: bytes = b"", content_type: str | None = None) -> SipRequest:
        """A new request of ours in this dialog (§12.2.1.1), with a fresh branch."""
        self.local_cseq += 1
        req = SipRequest(method=method, uri=self.remote_target)
        req.headers.add("Via", f"SIP/2.0/{self.transport} {self.via_host}:{self.via_port}"
                               f";branch={new_branch()};rport")
        req.headers.add("Max-Forwards", "70")
        for route in self.route_set:
            req.headers.add("Route", route)
        req.headers.add("From", f"{self.local_uri};tag={self.local_tag}")
        req.headers.add("To", self.remote_uri)
        req.headers.add("Call-ID", self.call_id)
        req.headers.add("CSeq", f"{self.local_cseq} {method}")
        req.headers.add("User-Agent", USER_AGENT)
        return _with_body(req, extra, body, content_type)
