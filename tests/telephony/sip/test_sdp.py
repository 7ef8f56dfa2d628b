from __future__ import annotations

import pytest

from tests.telephony.sip.messages import OFFER
from voice_agent.telephony.sip.sdp import SdpError, build_answer, build_offer, parse_offer

PJSUA_OFFER = (
    "v=0\r\no=- 3900000000 3900000000 IN IP4 192.168.1.20\r\ns=pjmedia\r\nb=AS:84\r\nt=0 0\r\n"
    "a=X-nat:0\r\nm=audio 4000 RTP/AVP 8 0 120\r\nc=IN IP4 192.168.1.20\r\nb=TIAS:64000\r\n"
    "a=rtcp:4001 IN IP4 192.168.1.20\r\na=sendrecv\r\na=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:0 PCMU/8000\r\na=rtpmap:120 telephone-event/8000\r\na=fmtp:120 0-16\r\n"
)


def test_answers_the_first_g711_codec_and_the_offered_dtmf_type() -> None:
    offer = parse_offer(PJSUA_OFFER)
    assert (offer.codec, offer.payload_type, offer.dtmf_payload_type) == ("PCMA", 8, 120)
    assert (offer.address, offer.port, offer.on_hold) == ("192.168.1.20", 4000, False)
    answer = build_answer(offer, address="10.0.0.5", port=20000, session_id=7, version=1)
    assert "m=audio 20000 RTP/AVP 8 120\r\n" in answer
    assert "a=rtpmap:120 telephone-event/8000" in answer and "c=IN IP4 10.0.0.5" in answer
    assert parse_offer(answer).dtmf_payload_type == 120


def test_pcmu_without_telephone_event() -> None:
    offer = parse_offer(OFFER.format(port=5000, direction="sendrecv")
                        .replace("0 8 101", "0").replace("a=rtpmap:101", "a=x"))
    assert offer.codec == "PCMU" and offer.dtmf_payload_type is None
    assert "telephone-event" not in build_answer(offer, address="1.2.3.4", port=2, session_id=1,
                                                 version=1)


@pytest.mark.parametrize(("direction", "answer_dir"), [("sendonly", "recvonly"),
                                                       ("inactive", "inactive"),
                                                       ("recvonly", "sendonly")])
def test_hold_directions(direction: str, answer_dir: str) -> None:
    offer = parse_offer(OFFER.format(port=5000, direction=direction))
    assert offer.on_hold == (direction != "recvonly")
    assert f"a={answer_dir}" in build_answer(offer, address="1.2.3.4", port=2, session_id=1,
                                             version=2)


def test_old_style_hold_with_a_zero_address() -> None:
    offer = parse_offer(OFFER.format(port=5000, direction="sendrecv").replace(
        "c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0"))
    assert offer.on_hold


@pytest.mark.parametrize("text", [
    "", "v=0\r\n", OFFER.format(port=5000, direction="sendrecv").replace("0 8 101", "18 9"),
    OFFER.format(port=99999, direction="sendrecv"),
    OFFER.format(port=5000, direction="sendrecv").replace("RTP/AVP", "RTP/SAVP"),
    OFFER.format(port=5000, direction="sendrecv").replace("IN IP4 127.0.0.1", "IN IP4 host"),
    "m=audio 5000 RTP/AVP 0\r\n", "x" * 10_000,
])
def test_unusable_offers_raise(text: str) -> None:
    with pytest.raises(SdpError):
        parse_offer(text)


def test_our_offer_parses() -> None:
    offer = parse_offer(build_offer(address="127.0.0.1", port=6000, session_id=1))
    assert (offer.codec, offer.dtmf_payload_type) == ("PCMU", 101)
