"""One call's RTP socket: receive through the jitter buffer, send paced 20 ms packets.

A single clock drives both directions (frame *n* at ``t0 + n·20 ms``; a late loop catches up
rather than drifting): each tick plays one frame out of the jitter buffer (concealing a lost
one by repeating the last frame at half level, then silence) to ``on_audio``, and sends one
packet: a queued telephone-event, queued agent audio, or silence, so the caller's NAT binding
stays open and the timestamps stay continuous. Symmetric RTP: we send to where the caller's
packets come from (only from the addresses of its SDP or its signalling, so nobody else can
inject audio or redirect ours). Packet formats are in ``rtp.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable

import numpy as np

from voice_agent.telephony.codec import (
    FRAME_BYTES,
    Int16Array,
    alaw_decode,
    alaw_encode,
    ulaw_decode,
    ulaw_encode,
)
from voice_agent.telephony.sip.rtp import (
    DtmfReceiver,
    JitterBuffer,
    RtpError,
    RtpPacket,
    RtpSender,
)
from voice_agent.telephony.sip.sdp import MediaOffer

__all__ = ["RtpSession", "bind_rtp_socket"]

log = logging.getLogger(__name__)
FRAME_S = 0.020
MAX_QUEUED_FRAMES = 3  # agent audio ahead of the wire: 60 ms (what a barge-in can leave over)
SILENCE = {"PCMU": b"\xff" * FRAME_BYTES, "PCMA": b"\xd5" * FRAME_BYTES}


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, session: RtpSession) -> None:
        self.session = session

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:  # type: ignore[override]
        self.session.datagram(data, (addr[0], addr[1]))

    def error_received(self, exc: Exception) -> None:
        log.debug("RTP socket error: %s", exc)


async def bind_rtp_socket(host: str, port_range: tuple[int, int], session: RtpSession
                          ) -> tuple[asyncio.DatagramTransport, int]:
    """A UDP socket on a free even port of the range (RTCP would take the odd one)."""
    loop = asyncio.get_running_loop()
    low, high = port_range
    ports = list(range(low + low % 2, high, 2))
    random.shuffle(ports)
    for port in ports[:200]:
        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Protocol(session), local_addr=(host, port))
        except OSError:
            continue
        return transport, port
    raise OSError("no free RTP port in the configured range")


class RtpSession:
    def __init__(self, *, offer: MediaOffer, peer_ips: set[str],
                 on_audio: Callable[[Int16Array], None] | None = None,
                 on_dtmf: Callable[[str], None] | None = None,
                 jitter_depth: int = 3) -> None:
        self.offer = offer
        self.peer_ips = set(peer_ips) | {offer.address}
        self.on_audio = on_audio
        self.on_dtmf = on_dtmf
        # Until the pipeline attaches (it starts after the ACK) the caller's audio is kept,
        # up to 3 s, and handed over at once when it does: nothing said early is lost.
        self.jitter = JitterBuffer(depth=jitter_depth, max_frames=150)
        self._keys: list[str] = []
        self.dtmf_in = DtmfReceiver()
        self.sender = RtpSender(payload_type=offer.payload_type,
                                dtmf_payload_type=offer.dtmf_payload_type)
        self.remote: tuple[str, int] | None = (offer.address, offer.port) if not offer.on_hold \
            else None
        self.port = 0
        self._transport: asyncio.DatagramTransport | None = None
        self._ssrc: int | None = None
        self._out = bytearray()  # encoded agent audio not yet sent
        self._dtmf_out: list[bytes] = []
        self._room = asyncio.Event()
        self._room.set()
        self._last: Int16Array | None = None
        self._concealed = 0
        self._task: asyncio.Task[None] | None = None
        self.rejected = 0  # packets from elsewhere, or not RTP
        self.frames_sent_audio = 0  # packets that carried agent audio (not silence)

    async def open(self, host: str, port_range: tuple[int, int]) -> int:
        self._transport, self.port = await bind_rtp_socket(host, port_range, self)
        return self.port

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._clock(), name=f"rtp-{self.port}")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        self._room.set()

    def attach(self, on_audio: Callable[[Int16Array], None],
               on_dtmf: Callable[[str], None]) -> None:
        """The consumer is ready: hand it what arrived so far, then every frame as it plays."""
        self.on_audio, self.on_dtmf = on_audio, on_dtmf
        for _ in range(self.jitter.buffered):
            if not self.jitter.buffered:
                break
            self._play_one()
        for key in self._keys:
            on_dtmf(key)
        self._keys.clear()
        self.jitter.max_frames = 25  # from now on, 0.5 s behind means the clock fell behind

    def abort(self) -> None:
        """Close at once, from synchronous code."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        self._room.set()

    @property
    def closed(self) -> bool:
        return self._transport is None

    def update(self, offer: MediaOffer) -> None:
        """A re-INVITE: hold, resume, a new address or codec."""
        if offer.payload_type != self.offer.payload_type or offer.codec != self.offer.codec:
            self.sender.payload_type = offer.payload_type
            self._out.clear()
        self.sender.dtmf_payload_type = offer.dtmf_payload_type
        self.peer_ips.add(offer.address)
        self.offer = offer
        self.remote = None if offer.on_hold else (offer.address, offer.port)

    # --- receive ------------------------------------------------------------------------------

    def datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        if addr[0] not in self.peer_ips:
            self.rejected += 1
            return
        try:
            packet = RtpPacket.parse(data)
        except RtpError:
            self.rejected += 1  # RTCP lands here too (we send none; RFC 3550 makes it optional)
            return
        if packet.payload_type not in (self.offer.payload_type, self.offer.dtmf_payload_type):
            return  # comfort noise and the like
        if not self.offer.on_hold:
            self.remote = addr  # symmetric RTP
        if packet.ssrc != self._ssrc:
            if self._ssrc is not None:
                self.jitter = JitterBuffer(depth=self.jitter.depth, stats=self.jitter.stats)
            self._ssrc = packet.ssrc
        if packet.payload_type == self.offer.dtmf_payload_type:
            self.jitter.skip(self.jitter.extended(packet.sequence))
            key = self.dtmf_in.feed(packet)
            if key is not None:
                if self.on_dtmf is not None:
                    self.on_dtmf(key)
                elif len(self._keys) < 32:
                    self._keys.append(key)
            return
        self.jitter.push(packet, arrival_s=asyncio.get_running_loop().time())

    def _decode(self, payload: bytes) -> Int16Array:
        return alaw_decode(payload) if self.offer.codec == "PCMA" else ulaw_decode(payload)

    def _encode(self, pcm: Int16Array) -> bytes:
        return alaw_encode(pcm) if self.offer.codec == "PCMA" else ulaw_encode(pcm)

    def _play_one(self) -> None:
        if self.on_audio is None:
            return  # nobody listens yet: keep it buffered (see ``attach``)
        payload = self.jitter.pop()
        if payload is None:  # lost: conceal
            self._concealed += 1
            if self._last is not None and self._concealed <= 3:
                pcm = (self._last.astype(np.int32) >> self._concealed).astype(np.int16)
            else:
                pcm = np.zeros(FRAME_BYTES, dtype=np.int16)
        elif payload == b"":
            pcm = np.zeros(FRAME_BYTES, dtype=np.int16)
        else:
            self._concealed = 0
            pcm = self._decode(payload)
            self._last = pcm
        self.on_audio(pcm)

    # --- send ---------------------------------------------------------------------------------

    def enqueue(self, pcm: Int16Array) -> None:
        """Agent audio (8 kHz int16) to send after what is queued."""
        self._out.extend(self._encode(pcm))
        if len(self._out) >= MAX_QUEUED_FRAMES * FRAME_BYTES:
            self._room.clear()

    async def wait_room(self) -> None:
        """Return once no more than ``MAX_QUEUED_FRAMES`` are queued (real-time pacing)."""
        await self._room.wait()

    def clear(self) -> None:
        """Drop queued agent audio (the caller barged in)."""
        self._out.clear()
        self._room.set()

    @property
    def queued_frames(self) -> int:
        return -(-len(self._out) // FRAME_BYTES)

    def send_dtmf(self, key: str) -> None:
        self._dtmf_out.extend(self.sender.dtmf(key))

    def _send_one(self) -> None:
        if self._transport is None or self.remote is None:
            self._out.clear()
            self._room.set()
            return
        if self._dtmf_out:
            data = self._dtmf_out.pop(0)
        else:
            chunk = bytes(self._out[:FRAME_BYTES])
            del self._out[:FRAME_BYTES]
            if chunk:
                self.frames_sent_audio += 1
            silence = SILENCE[self.offer.codec]
            data = self.sender.audio(chunk.ljust(FRAME_BYTES, silence[:1]) if chunk else silence)
        if len(self._out) < MAX_QUEUED_FRAMES * FRAME_BYTES:
            self._room.set()
        self._transport.sendto(data, self.remote)

    async def _clock(self) -> None:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        n = 0
        while True:
            delay = t0 + n * FRAME_S - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            else:  # catching up after a stall: read what arrived meanwhile before playing it
                await asyncio.sleep(0)
                if delay < -1.0:  # stalled for over a second: start the clock anew
                    t0, n = loop.time(), 0
            try:
                self._play_one()
                self._send_one()
            except Exception:
                log.exception("RTP tick failed")
            n += 1
