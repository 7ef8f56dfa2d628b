from __future__ import annotations

import pytest

from tests.telephony.sip.messages import invite, request
from voice_agent.telephony.sip.dialog import uri_user
from voice_agent.telephony.sip.message import (
    MAX_HEADERS,
    SipParseError,
    SipRequest,
    SipResponse,
    header_param,
    parse_message,
)


def test_parses_an_invite_with_its_body() -> None:
    msg = parse_message(invite())
    assert isinstance(msg, SipRequest) and msg.method == "INVITE"
    assert msg.call_id == "c1@test" and msg.cseq == (1, "INVITE")
    assert msg.branch == "z9hG4bK-1" and msg.from_tag == "ft1" and msg.to_tag == ""
    assert msg.body.startswith(b"v=0")


def test_compact_names_folding_and_case() -> None:
    raw = (b"OPTIONS sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bKx\r\n"
           b"f: <sip:x@y>;tag=1\r\nt: <sip:a@b>\r\ni: abc\r\ncseq: 7\r\n OPTIONS\r\n"
           b"l: 0\r\n\r\n")
    msg = parse_message(raw)
    assert msg.call_id == "abc" and msg.cseq == (7, "OPTIONS")
    assert msg.headers.get("via") == "SIP/2.0/UDP h;branch=z9hG4bKx"


def test_serialize_round_trips_and_sets_content_length() -> None:
    msg = parse_message(invite())
    again = parse_message(msg.to_bytes())
    assert again.headers.items == msg.headers.items and again.body == msg.body
    resp = SipResponse(status=486, reason="Busy Here")
    resp.headers.add("Call-ID", "x")
    assert b"Content-Length: 0" in resp.to_bytes()


def test_extra_bytes_after_the_declared_body_are_discarded() -> None:
    msg = parse_message(request("OPTIONS", content_length=0) + b"junk")
    assert msg.body == b""


@pytest.mark.parametrize("raw", [
    b"",
    b"INVITE sip:a@b SIP/2.0\r\nVia: x\r\n",  # truncated: no end of headers
    b"HELLO\r\n\r\n",
    b"INVITE sip:a@b SIP/3.0\r\n\r\n",
    b"INVITE sip:a@b SIP/2.0\r\nno colon here\r\n\r\n",
    b"INVITE sip:a@b SIP/2.0\r\nX: \x01\r\n\r\n",
    b"INVITE sip:a@b SIP/2.0\r\nX: \xff\xfe\r\n\r\n",
    b"INVITE sip:a@b SIP/2.0\r\nContent-Length: 99\r\n\r\nshort",
    b"INVITE sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n",
    b"INVITE sip:a@b SIP/2.0\r\nX: " + b"a" * 5000 + b"\r\n\r\n",
    b"INVITE sip:a@b SIP/2.0\r\n" + b"X: y\r\n" * (MAX_HEADERS + 1) + b"\r\n",
    b"INVITE sip:a@b SIP/2.0\r\n" + b"X: " + b"y" * 3000 + b"\r\n" * 0 + b"\r\n" * 2 +
    b"z" * 40_000,
])
def test_malformed_messages_raise_sip_parse_error(raw: bytes) -> None:
    with pytest.raises(SipParseError):
        parse_message(raw)


def test_bad_cseq_raises_when_read() -> None:
    msg = parse_message(request("OPTIONS").replace(b"CSeq: 1 OPTIONS", b"CSeq: one"))
    with pytest.raises(SipParseError):
        _ = msg.cseq


def test_header_params_and_uri_users() -> None:
    assert header_param('"A;b" <sip:x@y;transport=udp>;tag=9', "tag") == "9"
    assert header_param("<sip:x@y;tag=no>", "tag") is None
    assert uri_user('"Bob" <sip:+15551230001@10.0.0.1:5060>;tag=1') == "+15551230001"
    assert uri_user("sip:demo-salon@host;user=phone") == "demo-salon"
    assert uri_user("tel:+1555") is None
