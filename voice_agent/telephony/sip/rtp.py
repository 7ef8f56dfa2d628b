"""RTP (RFC 3550) and RFC 4733 telephone-events: pure packet codecs, a small jitter buffer,
the sender's sequence/timestamp state. No sockets (``media.py`` has them).

* :class:`JitterBuffer` reorders, drops duplicates and packets too late to play, and says when
  a frame is missing so the caller conceals it; it measures interarrival jitter (RFC 3550
  §6.4.1) and loss as it goes.
* :class:`DtmfReceiver` reports each key once: RFC 4733 repeats an event's packets (and its
  end packet three times) under one RTP timestamp, so the timestamp is the key's identity.
* :class:`RtpSender` stamps 20 ms packets: one SSRC, sequence +1 and timestamp +160 each,
  the marker on the first packet of the stream and of each telephone-event.
"""

from __future__ import annotations

import secrets
import struct
from dataclasses import dataclass, field

__all__ = [
    "DTMF_EVENTS",
    "DtmfReceiver",
    "JitterBuffer",
    "JitterStats",
    "RtpError",
    "RtpPacket",
    "RtpSender",
    "dtmf_payload",
    "parse_dtmf",
]

SAMPLES_PER_FRAME = 160  # 20 ms at 8 kHz
DTMF_EVENTS = "0123456789*#ABCD"
_HEADER = struct.Struct("!BBHII")


class RtpError(ValueError):
    pass


@dataclass(frozen=True)
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False

    def to_bytes(self) -> bytes:
        return _HEADER.pack(0x80, (0x80 if self.marker else 0) | self.payload_type,
                            self.sequence & 0xFFFF, self.timestamp & 0xFFFFFFFF,
                            self.ssrc) + self.payload

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        if len(data) < 12:
            raise RtpError("short RTP packet")
        b0, b1, seq, ts, ssrc = _HEADER.unpack_from(data)
        if b0 >> 6 != 2:
            raise RtpError("not RTP version 2")
        offset = 12 + 4 * (b0 & 0x0F)
        if b0 & 0x10:  # header extension
            if len(data) < offset + 4:
                raise RtpError("truncated extension")
            offset += 4 + 4 * struct.unpack_from("!H", data, offset + 2)[0]
        end = len(data)
        if b0 & 0x20:  # padding
            end -= data[-1] if data else 0
        if offset > end:
            raise RtpError("truncated RTP packet")
        return cls(payload_type=b1 & 0x7F, sequence=seq, timestamp=ts, ssrc=ssrc,
                   payload=data[offset:end], marker=bool(b1 & 0x80))


def dtmf_payload(event: int, *, end: bool, duration: int, volume: int = 10) -> bytes:
    return struct.pack("!BBH", event, (0x80 if end else 0) | (volume & 0x3F), duration & 0xFFFF)


def parse_dtmf(payload: bytes) -> tuple[int, bool, int]:
    """(event, end, duration) of an RFC 4733 payload."""
    if len(payload) < 4:
        raise RtpError("short telephone-event")
    event, flags, duration = struct.unpack_from("!BBH", payload)
    return event, bool(flags & 0x80), duration


class DtmfReceiver:
    """Turns telephone-event packets into keys, each once (see the module docstring)."""

    def __init__(self, *, remember: int = 32) -> None:
        self._seen: list[int] = []
        self._remember = remember

    def feed(self, packet: RtpPacket) -> str | None:
        try:
            event, _end, _duration = parse_dtmf(packet.payload)
        except RtpError:
            return None
        if event >= len(DTMF_EVENTS) or packet.timestamp in self._seen:
            return None
        self._seen.append(packet.timestamp)
        del self._seen[:-self._remember]
        return DTMF_EVENTS[event]


@dataclass
class JitterStats:
    received: int = 0
    played: int = 0
    lost: int = 0  # frames that were due and missing (concealed)
    late: int = 0  # arrived after their frame was played (dropped)
    duplicate: int = 0
    reordered: int = 0
    jitter_ms: float = 0.0  # RFC 3550 interarrival jitter
    max_jitter_ms: float = 0.0


@dataclass
class JitterBuffer:
    """Packets in by sequence number, 20 ms frames out on the playout clock (:meth:`pop`).

    Playout starts once ``depth`` frames are buffered; a frame still missing when its turn
    comes is reported lost (``None``); a packet behind the playout point is late and dropped;
    more than ``max_frames`` buffered means the clock fell behind, and the oldest are skipped.
    """

    depth: int = 3
    max_frames: int = 25
    clock_rate: int = 8000
    stats: JitterStats = field(default_factory=JitterStats)
    _frames: dict[int, bytes] = field(default_factory=dict)
    _next: int | None = None  # extended sequence number of the next frame to play
    _highest: int | None = None
    _started: bool = False
    _transit: float | None = None
    _jitter: float = 0.0

    def _extend(self, seq: int) -> int:
        if self._highest is None:
            return seq
        base = self._highest & ~0xFFFF
        candidates = (base - 0x10000 + seq, base + seq, base + 0x10000 + seq)
        return min(candidates, key=lambda c: abs(c - self._highest))  # type: ignore[operator]

    def push(self, packet: RtpPacket, *, arrival_s: float) -> None:
        self.stats.received += 1
        ext = self._extend(packet.sequence)
        self._measure(packet.timestamp, arrival_s)
        if self._next is not None and ext < self._next:
            self.stats.late += 1
            return
        if ext in self._frames:
            self.stats.duplicate += 1
            return
        if self._highest is not None and ext < self._highest:
            self.stats.reordered += 1
        self._highest = ext if self._highest is None else max(self._highest, ext)
        self._frames[ext] = packet.payload
        if self._next is None:
            self._next = ext
        if len(self._frames) > self.max_frames:  # the playout clock fell behind: catch up
            while len(self._frames) > self.depth and self._next is not None:
                if self._frames.pop(self._next, None) is None:
                    self.stats.lost += 1
                self._next += 1

    def skip(self, ext_seq: int) -> None:
        """A sequence number used by a non-audio packet (telephone-event): not a loss."""
        if self._next is not None and ext_seq >= self._next:
            self._frames.setdefault(ext_seq, b"")

    def extended(self, seq: int) -> int:
        return self._extend(seq)

    @property
    def buffered(self) -> int:
        return len(self._frames)

    def pop(self) -> bytes | None:
        """The next 20 ms payload; ``b""`` before playout started (nothing to play yet) and
        for non-audio slots; ``None`` for a frame that is missing (conceal it)."""
        if self._next is None:
            return b""
        if not self._started:
            if len(self._frames) < self.depth:
                return b""
            self._started = True
        while True:
            payload = self._frames.pop(self._next, None)
            self._next += 1
            if payload is None:
                if self._highest is not None and self._next > self._highest + 1:
                    self._next -= 1  # nothing newer has arrived: an underrun, not a loss
                    self._started = len(self._frames) >= self.depth
                    return b""
                self.stats.lost += 1
                return None
            if payload == b"":  # a telephone-event slot
                if not self._frames:
                    return b""
                continue
            self.stats.played += 1
            return payload

    def _measure(self, rtp_ts: int, arrival_s: float) -> None:
        transit = arrival_s * self.clock_rate - rtp_ts
        if self._transit is not None:
            d = abs(transit - self._transit)
            if d < self.clock_rate * 10:  # a timestamp jump (new talkspurt source) is no jitter
                self._jitter += (d - self._jitter) / 16
                ms = self._jitter * 1000 / self.clock_rate
                self.stats.jitter_ms = ms
                self.stats.max_jitter_ms = max(self.stats.max_jitter_ms, ms)
        self._transit = transit


class RtpSender:
    """Sequence, timestamp and SSRC of one outgoing stream (random starts, RFC 3550 §5.1)."""

    def __init__(self, *, payload_type: int, dtmf_payload_type: int | None = None,
                 ssrc: int | None = None) -> None:
        self.payload_type = payload_type
        self.dtmf_payload_type = dtmf_payload_type
        self.ssrc = ssrc if ssrc is not None else secrets.randbits(32)
        self.sequence = secrets.randbits(16)
        self.timestamp = secrets.randbits(32)
        self._first = True
        self.sent = 0

    def audio(self, payload: bytes) -> bytes:
        packet = RtpPacket(self.payload_type, self.sequence, self.timestamp, self.ssrc,
                           payload, marker=self._first)
        self._first = False
        self.sequence = (self.sequence + 1) & 0xFFFF
        self.timestamp = (self.timestamp + len(payload)) & 0xFFFFFFFF
        self.sent += 1
        return packet.to_bytes()

    def dtmf(self, key: str, *, frames: int = 8) -> list[bytes]:
        """The packets of one key (``frames`` x 20 ms, then the end packet three times), to be
        sent one per 20 ms in place of audio; the event keeps its starting timestamp."""
        if self.dtmf_payload_type is None:
            raise RtpError("the peer did not offer telephone-event")
        event = DTMF_EVENTS.index(key.upper())
        start = self.timestamp
        out = []
        for i in range(frames + 3):
            end = i >= frames
            duration = SAMPLES_PER_FRAME * min(i + 1, frames)
            out.append(RtpPacket(self.dtmf_payload_type, self.sequence, start, self.ssrc,
                                 dtmf_payload(event, end=end, duration=duration),
                                 marker=i == 0).to_bytes())
            self.sequence = (self.sequence + 1) & 0xFFFF
        self.timestamp = (start + SAMPLES_PER_FRAME * frames) & 0xFFFFFFFF
        self.sent += len(out)
        return out
