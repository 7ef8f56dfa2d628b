"""The RTP session's receive side and its controls, fed datagrams directly (no socket)."""

from __future__ import annotations

import numpy as np

from tests.telephony.sip.messages import OFFER
from voice_agent.telephony.codec import ulaw_encode
from voice_agent.telephony.sip.media import RtpSession
from voice_agent.telephony.sip.rtp import RtpPacket, RtpSender
from voice_agent.telephony.sip.sdp import parse_offer

CALLER = ("127.0.0.1", 40000)


def session() -> RtpSession:
    return RtpSession(offer=parse_offer(OFFER.format(port=40000, direction="sendrecv")),
                      peer_ips={"127.0.0.1"})


def frame(n: int) -> bytes:
    return ulaw_encode(np.full(160, 100 * (n + 1), dtype=np.int16))


async def test_audio_before_the_pipeline_attaches_is_handed_over_in_order() -> None:
    media = session()
    sender = RtpSender(payload_type=0, dtmf_payload_type=101)
    for n in range(10):
        media.datagram(sender.audio(frame(n)), CALLER)
    for data in sender.dtmf("7"):
        media.datagram(data, CALLER)
    got: list[np.ndarray] = []
    keys: list[str] = []
    media.attach(got.append, keys.append)
    heard = [f for f in got if np.any(f)]
    assert len(heard) == 10 and [int(f[0]) for f in heard] == sorted(int(f[0]) for f in heard)
    assert keys == ["7"] and media.jitter.stats.lost == 0


async def test_only_the_callers_addresses_may_send_and_we_answer_where_it_sends_from() -> None:
    media = session()
    sender = RtpSender(payload_type=0)
    media.datagram(sender.audio(frame(0)), ("203.0.113.5", 40000))  # someone else
    assert media.rejected == 1 and media.jitter.stats.received == 0
    media.datagram(b"\x80\x00garbage", CALLER)
    assert media.rejected == 2
    media.datagram(sender.audio(frame(1)), ("127.0.0.1", 41234))  # the caller, behind NAT
    assert media.remote == ("127.0.0.1", 41234) and media.jitter.stats.received == 1


async def test_hold_stops_our_audio_and_resume_restores_it() -> None:
    media = session()
    assert media.remote == ("127.0.0.1", 40000)
    media.update(parse_offer(OFFER.format(port=40000, direction="sendonly")))
    assert media.remote is None
    media.enqueue(np.zeros(480, dtype=np.int16))
    media._send_one()  # nothing to send to while held: the queue is dropped
    assert media.queued_frames == 0
    media.update(parse_offer(OFFER.format(port=40002, direction="sendrecv")
                             .replace("0 8 101", "8 101")))
    assert media.remote == ("127.0.0.1", 40002) and media.sender.payload_type == 8
    assert media.offer.codec == "PCMA"


async def test_a_lost_frame_is_concealed_with_the_last_one_attenuated() -> None:
    media = session()
    got: list[np.ndarray] = []
    media.attach(got.append, lambda key: None)
    packets = [RtpPacket(0, 100 + n, 1000 + 160 * n, 9, frame(5)) for n in range(6)]
    for p in packets[:3] + packets[4:]:  # packet 3 lost
        media.datagram(p.to_bytes(), CALLER)
    for _ in range(6):
        media._play_one()
    levels = [int(np.abs(f).max()) for f in got if np.any(f)]
    assert len(levels) == 6 and levels[3] == levels[2] // 2 and media.jitter.stats.lost == 1
