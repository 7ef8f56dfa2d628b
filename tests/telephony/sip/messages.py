"""SIP requests as trunks send them, for the tests (text templates, no stack of ours)."""

from __future__ import annotations

OFFER = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio {port} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na={direction}\r\n"
)


def request(method: str, *, call_id: str = "c1@test", branch: str = "z9hG4bK-1",
            cseq: int = 1, from_tag: str = "ft1", to_tag: str | None = None,
            body: str = "", uri: str = "sip:+15550001111@127.0.0.1", cseq_method: str | None = None,
            extra: str = "", content_length: int | None = None) -> bytes:
    to = "<sip:+15550001111@127.0.0.1>" + (f";tag={to_tag}" if to_tag else "")
    ctype = "Content-Type: application/sdp\r\n" if body else ""
    length = len(body.encode()) if content_length is None else content_length
    return (
        f"{method} {uri} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:5099;branch={branch};rport\r\n"
        f"From: \"Caller\" <sip:+15551230001@127.0.0.1>;tag={from_tag}\r\n"
        f"To: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {cseq_method or method}\r\n"
        f"Contact: <sip:caller@127.0.0.1:5099>\r\nMax-Forwards: 70\r\n{extra}{ctype}"
        f"Content-Length: {length}\r\n\r\n{body}"
    ).encode()


def invite(*, port: int = 40000, direction: str = "sendrecv", **kw: object) -> bytes:
    return request("INVITE", body=OFFER.format(port=port, direction=direction), **kw)  # type: ignore[arg-type]
