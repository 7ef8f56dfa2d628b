"""The simulated caller's side of a SIP call: a small UAC over UDP with an RTP stream.

:class:`SipPhoneClient` has the same surface as :class:`MediaStreamClient` (``start``,
``speak``, ``send_dtmf``, ``wait_agent_reply``, ``recording``, ``closed``...), so the scripted
caller (``caller.py``) can phone the agent over a SIP trunk instead of Twilio. It uses the
production wire formats (``voice_agent.telephony.sip``: messages, SDP, RTP), so it is not an
independent peer: SIPp and baresip are (tests/telephony/sip, tests/e2e/test_sip_call.py).

Media: one 20 ms clock sends the caller's frame (speech or silence) and plays one frame of the
agent's audio out of a jitter buffer; a played frame louder than digital silence counts as
agent audio arriving (the agent sends silence between replies). ``rtp_stats`` gives the
jitter and loss measured on the agent's stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np

from evals.simulator.agent_audio import FRAME_S, AgentAudio
from voice_agent.telephony.codec import FRAME_BYTES, Int16Array, ulaw_decode, ulaw_encode
from voice_agent.telephony.sip.dialog import new_branch, new_tag
from voice_agent.telephony.sip.message import SipRequest, SipResponse, parse_message
from voice_agent.telephony.sip.rtp import JitterBuffer, JitterStats, RtpPacket, RtpSender
from voice_agent.telephony.sip.sdp import build_offer, parse_offer

__all__ = ["SipPhoneClient", "SipTarget", "dial_sip"]

SPEECH_LEVEL = 64  # |sample| above this in a played frame: the agent is speaking
_SILENCE = b"\xff" * FRAME_BYTES


@dataclass(frozen=True)
class SipTarget:
    host: str
    port: int
    called: str = "+15550001111"


class _Udp(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:  # type: ignore[override]
        self.queue.put_nowait((data, addr))


class SipPhoneClient(AgentAudio):
    def __init__(self, target: SipTarget, *, caller: str, now: datetime | None,
                 keep_packets: bool = False) -> None:
        super().__init__()
        self.target = target
        self.caller, self._now = caller, now
        self.call_sid = self.stream_sid = f"{secrets.token_hex(8)}@sim-caller"
        self._tag, self._cseq = new_tag(), 1
        self._loop = asyncio.get_running_loop()
        self._t0 = 0.0
        self._tx = bytearray()
        self._tx_drained = asyncio.Event()
        self._tx_drained.set()
        self._last_speech_sent_s = 0.0
        self._dtmf: list[bytes] = []
        self.jitter = JitterBuffer(depth=3)
        self.media_sent = 0
        self.marks_echoed: list[str] = []
        self.closed = asyncio.Event()
        self.closed_by: Literal["server", "caller"] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._to = ""
        self._remote_rtp: tuple[str, int] | None = None
        self._sender: RtpSender | None = None
        self.packets: list[tuple[float, RtpPacket]] | None = [] if keep_packets else None

    # --- signalling -----------------------------------------------------------------------------

    async def open(self) -> None:
        self._sip_t, self._sip = await self._loop.create_datagram_endpoint(
            _Udp, local_addr=("127.0.0.1", 0))
        self._rtp_t, self._rtp = await self._loop.create_datagram_endpoint(
            _Udp, local_addr=("127.0.0.1", 0))
        self._sip_port = self._sip_t.get_extra_info("sockname")[1]
        rtp_port = self._rtp_t.get_extra_info("sockname")[1]
        offer = build_offer(address="127.0.0.1", port=rtp_port, session_id=rtp_port)
        invite = self._request("INVITE", body=offer.encode())
        if self._now is not None:
            invite.headers.add("X-Voice-Agent-Now", self._now.isoformat())
        resp = await self._transact(invite, final_only=True)
        if resp.status != 200:
            await self.aclose()
            raise ConnectionError(f"the agent answered {resp.status} {resp.reason}")
        self._to = resp.headers.get("To") or ""
        answer = parse_offer(resp.body.decode())
        self._remote_rtp = (answer.address, answer.port)
        self._sender = RtpSender(payload_type=answer.payload_type,
                                 dtmf_payload_type=answer.dtmf_payload_type)
        self._send_sip(self._request("ACK", cseq=1))

    def _request(self, method: str, *, body: bytes = b"", cseq: int | None = None) -> SipRequest:
        t = self.target
        req = SipRequest(method=method, uri=f"sip:{t.called}@{t.host}:{t.port}")
        req.headers.add("Via", f"SIP/2.0/UDP 127.0.0.1:{self._sip_port};branch={new_branch()}")
        req.headers.add("Max-Forwards", "70")
        req.headers.add("From", f"<sip:{self.caller}@127.0.0.1>;tag={self._tag}")
        req.headers.add("To", self._to or f"<sip:{t.called}@{t.host}>")
        req.headers.add("Call-ID", self.call_sid)
        if cseq is None:
            self._cseq += 0 if method == "INVITE" else 1
            cseq = self._cseq
        req.headers.add("CSeq", f"{cseq} {method}")
        req.headers.add("Contact", f"<sip:{self.caller}@127.0.0.1:{self._sip_port}>")
        if body:
            req.headers.add("Content-Type", "application/sdp")
        req.body = body
        return req

    def _send_sip(self, message: SipRequest | SipResponse) -> None:
        self._sip_t.sendto(message.to_bytes(), (self.target.host, self.target.port))

    async def _transact(self, req: SipRequest, *, final_only: bool = False) -> SipResponse:
        """Send (resending on T1) until a final response to it arrives."""
        interval = 0.5
        for _ in range(7):
            self._send_sip(req)
            try:
                async with asyncio.timeout(interval) as deadline:
                    while True:
                        resp = await self._next_response(req)
                        if resp.status >= 200:
                            return resp
                        if final_only:  # ringing: stop resending, wait for the answer
                            deadline.reschedule(self._loop.time() + 30.0)
            except TimeoutError:
                interval = min(interval * 2, 4.0)
        raise ConnectionError(f"no final response to {req.method}")

    async def _next_response(self, req: SipRequest) -> SipResponse:
        while True:
            data, _ = await self._sip.queue.get()
            msg = parse_message(data)
            if isinstance(msg, SipResponse) and msg.branch == req.branch:
                return msg
            if isinstance(msg, SipRequest):
                self._on_request(msg)

    def _on_request(self, req: SipRequest) -> None:
        resp = SipResponse(status=200, reason="OK")
        for name in ("Via", "From", "To", "Call-ID", "CSeq"):
            resp.headers.add(name, req.headers.get(name) or "")
        if req.method != "ACK":
            self._send_sip(resp)
        if req.method == "BYE" and not self.closed.is_set():
            self.closed_by = "server"
            self._mark_closed()

    async def _signalling(self) -> None:
        while True:
            data, _ = await self._sip.queue.get()
            with contextlib.suppress(ValueError):
                msg = parse_message(data)
                if isinstance(msg, SipRequest):
                    self._on_request(msg)

    # --- lifecycle (MediaStreamClient's surface) ---------------------------------------------

    async def start(self) -> None:
        self._t0 = self._loop.time()
        self._tasks = [asyncio.create_task(self._clock(), name="sip-phone-clock"),
                       asyncio.create_task(self._signalling(), name="sip-phone-signalling"),
                       asyncio.create_task(self._rtp_in(), name="sip-phone-rtp")]

    def now(self) -> float:
        return self._loop.time() - self._t0

    async def stop(self) -> None:
        """Hang up from the caller's side (BYE), if the agent has not already."""
        if not self.closed.is_set():
            self.closed_by = "caller"
            self._mark_closed()
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tasks = []
            with contextlib.suppress(ConnectionError):
                await self._transact(self._request("BYE"))
        await self.aclose()

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self._sip_t.close()
        self._rtp_t.close()

    async def speak(self, pcm: Int16Array) -> float:
        payload = ulaw_encode(pcm)
        if payload and not self.closed.is_set():
            self._tx.extend(payload)
            self._tx_drained.clear()
            await self._tx_drained.wait()
        return self._last_speech_sent_s if payload else self.now()

    async def send_dtmf(self, digit: str) -> None:
        if self._sender is not None and self._sender.dtmf_payload_type is not None:
            self._dtmf.extend(self._sender.dtmf(digit))
            while self._dtmf and not self.closed.is_set():  # noqa: ASYNC110  (the clock drains it)
                await asyncio.sleep(FRAME_S)

    @property
    def rtp_stats(self) -> JitterStats:
        return self.jitter.stats

    # --- media --------------------------------------------------------------------------------

    async def _rtp_in(self) -> None:
        while True:
            data, _ = await self._rtp.queue.get()
            with contextlib.suppress(ValueError):
                packet = RtpPacket.parse(data)
                self.jitter.push(packet, arrival_s=self._loop.time())
                if self.packets is not None and len(self.packets) < 100_000:
                    self.packets.append((self._loop.time(), packet))

    async def _clock(self) -> None:
        n = 0
        while not self.closed.is_set():
            delay = self._t0 + n * FRAME_S - self._loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            self._tick()
            n += 1

    def _tick(self) -> None:
        assert self._sender is not None and self._remote_rtp is not None
        speaking = bool(self._tx)
        if speaking or self.line_noise is None:
            frame = bytes(self._tx[:FRAME_BYTES]).ljust(FRAME_BYTES, b"\xff")
        else:  # a noisy line is noisy between the caller's sentences too
            frame = ulaw_encode(self.line_noise.next())
        del self._tx[:FRAME_BYTES]
        if self._dtmf:
            self._rtp_t.sendto(self._dtmf.pop(0), self._remote_rtp)
        else:
            self._rtp_t.sendto(self._sender.audio(frame), self._remote_rtp)
        self.media_sent += 1
        self._caller_frames.append(frame)
        if speaking:
            self._last_speech_sent_s = self.now()
            if not self._tx:
                self._tx_drained.set()
        played = self.jitter.pop() or _SILENCE
        self._agent_frames.append(played)
        if np.abs(ulaw_decode(played)).max() > SPEECH_LEVEL:
            self._agent_audio_arrived(self.now(), FRAME_BYTES)

    def _mark_closed(self) -> None:
        self.closed.set()
        self._tx_drained.set()


async def dial_sip(target: SipTarget, *, caller: str, now: datetime | None = None,
                   keep_packets: bool = False) -> SipPhoneClient:
    """INVITE the agent, wait for its 200 and ACK it; the returned client is not started.
    ``keep_packets`` keeps every RTP packet received (with its arrival time) in ``packets``."""
    client = SipPhoneClient(target, caller=caller, now=now, keep_packets=keep_packets)
    await client.open()
    return client
