"""Property-based fuzzing of the SIP parser, the SDP reader, RTP and the UAS (hypothesis)."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.telephony.sip.messages import invite, request
from tests.telephony.sip.test_uas import App
from voice_agent.telephony.sip.message import SipParseError, SipRequest, parse_message
from voice_agent.telephony.sip.rtp import JitterBuffer, RtpError, RtpPacket
from voice_agent.telephony.sip.sdp import SdpError, parse_offer
from voice_agent.telephony.sip.uas import SipUas, UasOptions

SEEDS = [invite(), request("BYE", to_tag="x", cseq=2), request("OPTIONS"),
         request("CANCEL"), b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKa\r\n"
         b"Call-ID: a\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n"]
token = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789-.!%*_+`'~", min_size=1,
                max_size=20)
value = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FF), max_size=60)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A real message, then cut, spliced, with bytes flipped or repeated."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "dup"]))
        i = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[i] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[i:i + draw(st.integers(1, 200))]
        elif op == "insert":
            data[i:i] = draw(st.binary(max_size=40))
        elif data:
            data[i:i] = data[i:i + draw(st.integers(1, 300))] * draw(st.integers(1, 30))
    return bytes(data)


@settings(max_examples=400, deadline=None)
@given(st.one_of(mutated(), st.binary(max_size=2000)))
def test_parser_raises_only_its_own_error(data: bytes) -> None:
    try:
        msg = parse_message(data)
    except SipParseError:
        return
    try:  # what the UAS reads next must fail the same way, or work
        _ = msg.cseq, msg.branch, msg.from_tag, msg.to_tag
    except SipParseError:
        pass
    assert parse_message(msg.to_bytes()).headers.items == msg.headers.items


@settings(max_examples=200, deadline=None)
@given(method=token, uri=st.from_regex(r"sip:[a-z0-9+]{1,12}@[a-z0-9.]{1,20}", fullmatch=True),
       headers=st.lists(st.tuples(token, value), max_size=20), body=st.binary(max_size=300))
def test_any_well_formed_request_round_trips(method: str, uri: str,
                                             headers: list[tuple[str, str]], body: bytes) -> None:
    req = SipRequest(method=method.upper(), uri=uri)
    for name, v in headers:
        req.headers.add(name, v.strip())
    req.body = body
    again = parse_message(req.to_bytes())
    assert isinstance(again, SipRequest) and again.method == req.method and again.uri == uri
    assert again.headers.items == req.headers.items and again.body == body


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=600))
def test_sdp_reader_raises_only_its_own_error(text: str) -> None:
    try:
        parse_offer("v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 4000 RTP/AVP 0 101\r\n" + text)
        parse_offer(text)
    except SdpError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=30))
def test_rtp_parser_and_jitter_buffer_survive_anything(datagrams: list[bytes]) -> None:
    jb = JitterBuffer()
    for i, data in enumerate(datagrams):
        try:
            jb.push(RtpPacket.parse(data), arrival_s=i * 0.02)
        except RtpError:
            pass
        jb.pop()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(mutated(), st.binary(max_size=300)), min_size=1, max_size=8))
def test_the_uas_never_raises_on_hostile_input(messages: list[bytes]) -> None:
    async def run() -> None:
        uas = SipUas(UasOptions(host="127.0.0.1", port=5060, t1=0.01), App())
        for data in messages:
            uas.receive(data, ("127.0.0.1", 5099), lambda out: None)
        await asyncio.sleep(0)
        await uas.close()

    asyncio.run(run())
