"""Writes an RTP capture SIPp can replay (``play_pcap_audio``): PCMU speech frames, then RFC 4733
telephone-events, 20 ms apart, as libpcap Ethernet/IPv4/UDP packets. Test tooling only."""

from __future__ import annotations

import struct
from pathlib import Path

from voice_agent.telephony.codec import FRAME_BYTES
from voice_agent.telephony.sip.rtp import DTMF_EVENTS, RtpPacket, dtmf_payload

SRC_PORT, DST_PORT = 6000, 6002


def _ip_checksum(header: bytes) -> int:
    total = sum(struct.unpack("!10H", header))
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF


def _frame(payload: bytes) -> bytes:
    udp = struct.pack("!HHHH", SRC_PORT, DST_PORT, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]))
    ip = ip[:10] + struct.pack("!H", _ip_checksum(ip)) + ip[12:]
    return b"\x00" * 12 + b"\x08\x00" + ip + udp


def write_rtp_pcap(path: Path, ulaw: bytes, *, digits: str = "", dtmf_pt: int = 101,
                   ssrc: int = 0x1234ABCD) -> int:
    """Speech (μ-law, cut into 20 ms frames) then each digit (8 frames + 3 end packets, 100 ms
    apart); returns the number of RTP packets."""
    packets: list[bytes] = []
    seq, ts = 1000, 160_000
    for i in range(0, len(ulaw) - FRAME_BYTES + 1, FRAME_BYTES):
        packets.append(RtpPacket(0, seq, ts, ssrc, ulaw[i:i + FRAME_BYTES], marker=i == 0)
                       .to_bytes())
        seq, ts = seq + 1, ts + FRAME_BYTES
    for key in digits:
        event = DTMF_EVENTS.index(key)
        for j in range(11):
            end = j >= 8
            packets.append(RtpPacket(dtmf_pt, seq, ts, ssrc,
                                     dtmf_payload(event, end=end, duration=160 * min(j + 1, 8)),
                                     marker=j == 0).to_bytes())
            seq += 1
        ts += 160 * 8
        for _ in range(5):  # 100 ms of silence between keys
            packets.append(RtpPacket(0, seq, ts, ssrc, b"\xff" * FRAME_BYTES).to_bytes())
            seq, ts = seq + 1, ts + FRAME_BYTES
    with path.open("wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for n, payload in enumerate(packets):
            frame = _frame(payload)
            t_us = n * 20_000
            f.write(struct.pack("<IIII", t_us // 1_000_000, t_us % 1_000_000, len(frame),
                                len(frame)))
            f.write(frame)
    return len(packets)
