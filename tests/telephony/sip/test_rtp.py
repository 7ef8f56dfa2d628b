from __future__ import annotations

import numpy as np
import pytest

from voice_agent.telephony.codec import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from voice_agent.telephony.sip.rtp import (
    DtmfReceiver,
    JitterBuffer,
    RtpError,
    RtpPacket,
    RtpSender,
    parse_dtmf,
)


def pkt(seq: int, payload: bytes | None = None, ts: int | None = None) -> RtpPacket:
    return RtpPacket(0, seq & 0xFFFF, (ts if ts is not None else seq * 160) & 0xFFFFFFFF, 42,
                     payload if payload is not None else bytes([seq % 256]) * 160)


def test_packet_round_trip_and_header_bits() -> None:
    p = RtpPacket(8, 65535, 2**32 - 1, 0xDEADBEEF, b"abc", marker=True)
    data = p.to_bytes()
    assert data[0] == 0x80 and data[1] == 0x88 and RtpPacket.parse(data) == p


def test_parse_skips_csrcs_extension_and_padding() -> None:
    base = RtpPacket(0, 1, 2, 3, b"").to_bytes()
    head = bytes([0x80 | 0x20 | 0x10 | 0x01]) + base[1:12] + b"\0\0\0\1"
    ext = b"\xbe\xde\x00\x01" + b"\1\2\3\4"
    assert RtpPacket.parse(head + ext + b"pay" + b"\0\0\3").payload == b"pay"
    for bad in (b"", b"\x80" * 5, b"\x40" + base[1:], head + b"\xbe\xde"):
        with pytest.raises(RtpError):
            RtpPacket.parse(bad)


def test_jitter_buffer_reorders_and_waits_for_its_depth() -> None:
    jb = JitterBuffer(depth=3)
    for seq in (10, 12, 11):
        jb.push(pkt(seq), arrival_s=seq * 0.02)
    assert [jb.pop()[0] for _ in range(3)] == [10, 11, 12]  # type: ignore[index]
    assert jb.stats.reordered == 1 and jb.stats.played == 3


def test_jitter_buffer_drops_late_and_duplicate_and_reports_loss() -> None:
    jb = JitterBuffer(depth=2)
    jb.push(pkt(1), arrival_s=0.0)
    jb.push(pkt(1), arrival_s=0.0)
    jb.push(pkt(3), arrival_s=0.04)
    assert jb.pop() == pkt(1).payload
    assert jb.pop() is None  # 2 is missing while 3 is here: conceal
    jb.push(pkt(2), arrival_s=0.05)  # too late now
    assert jb.pop() == pkt(3).payload
    assert (jb.stats.duplicate, jb.stats.late, jb.stats.lost) == (1, 1, 1)
    assert jb.pop() == b""  # nothing newer: an underrun, not a loss
    assert jb.stats.lost == 1


def test_sequence_wraparound() -> None:
    jb = JitterBuffer(depth=1)
    out = []
    for seq in (65534, 65535, 0, 1):
        jb.push(pkt(seq), arrival_s=0.0)
        out.append(jb.pop())
    assert out == [pkt(s).payload for s in (65534, 65535, 0, 1)] and jb.stats.lost == 0


def test_jitter_is_zero_for_a_steady_stream_and_grows_with_delay_variation() -> None:
    steady = JitterBuffer()
    for n in range(50):
        steady.push(pkt(n), arrival_s=n * 0.02)
    assert steady.stats.jitter_ms == pytest.approx(0.0, abs=1e-6)
    jumpy = JitterBuffer()
    for n in range(50):
        jumpy.push(pkt(n), arrival_s=n * 0.02 + (0.01 if n % 2 else 0.0))
    assert 5.0 < jumpy.stats.jitter_ms < 10.0


def test_sender_counts_sequence_and_timestamp_and_marks_the_first_packet() -> None:
    s = RtpSender(payload_type=0, dtmf_payload_type=101, ssrc=7)
    first, second = (RtpPacket.parse(s.audio(b"\xff" * 160)) for _ in range(2))
    assert first.marker and not second.marker and first.ssrc == second.ssrc == 7
    assert second.sequence == (first.sequence + 1) & 0xFFFF
    assert second.timestamp == (first.timestamp + 160) & 0xFFFFFFFF
    events = [RtpPacket.parse(d) for d in s.dtmf("5")]
    assert len(events) == 11 and events[0].marker and not events[1].marker
    assert {e.timestamp for e in events} == {(second.timestamp + 160) & 0xFFFFFFFF}
    assert [parse_dtmf(e.payload)[1] for e in events] == [False] * 8 + [True] * 3
    after = RtpPacket.parse(s.audio(b"\xff" * 160))
    assert after.sequence == (events[-1].sequence + 1) & 0xFFFF
    assert after.timestamp == (events[0].timestamp + 8 * 160) & 0xFFFFFFFF


def test_dtmf_receiver_reports_each_key_once_by_timestamp() -> None:
    s = RtpSender(payload_type=0, dtmf_payload_type=101)
    rx = DtmfReceiver()
    packets = [RtpPacket.parse(d) for d in s.dtmf("1") + s.dtmf("1") + s.dtmf("#")]
    keys = [k for p in packets if (k := rx.feed(p))]
    assert keys == ["1", "1", "#"]
    assert rx.feed(packets[5]) is None  # a late repeat of the first key


def test_g711_a_law_is_bit_exact_with_the_reference() -> None:
    audioop = pytest.importorskip("audioop")  # Python <= 3.12 still ships the reference
    pcm = np.arange(-32768, 32768, 7, dtype=np.int16)
    assert alaw_encode(pcm) == audioop.lin2alaw(pcm.tobytes(), 2)
    codes = bytes(range(256))
    assert alaw_decode(codes).tobytes() == audioop.alaw2lin(codes, 2)
    assert ulaw_decode(ulaw_encode(pcm)).shape == pcm.shape
