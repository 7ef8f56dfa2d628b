"""The SIP trunk front door: listeners, the UAS, and one pipeline per answered call.

A SIP call is admitted like a Twilio call (the worker's :class:`Admission`: 486 Busy Here
when full, 503 while not ready or draining), its business picked from the called number
(``sip_numbers``, a Request-URI naming a business, else the default business), and it runs
through the same ``run_call`` (by way of the ``handler``) with a :class:`SipCallTransport`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from connectors.schedule import Business
from voice_agent.config import Settings
from voice_agent.pipeline.call import CallLeg
from voice_agent.telephony.admission import Admission, AdmissionFull
from voice_agent.telephony.sip.auth import DigestAuth
from voice_agent.telephony.sip.media import RtpSession
from voice_agent.telephony.sip.pipecat_transport import SipCallTransport
from voice_agent.telephony.sip.sdp import MediaOffer, build_answer
from voice_agent.telephony.sip.transport import AllowList, SipTcpServer, SipUdpServer
from voice_agent.telephony.sip.uas import Refusal, SipCall, SipUas, UasOptions

__all__ = ["CallHandler", "SipServer", "SipServerOptions"]

log = logging.getLogger(__name__)
CallHandler = Callable[[SipCallTransport, CallLeg], Awaitable[object]]
NOW_HEADER = "X-Voice-Agent-Now"  # a replay's pinned clock; ignored in production


@dataclass(frozen=True)
class FinishedCall:
    """A call the server is done with, kept (the last 200) for operators and tests."""

    call_id: str
    end_reason: str | None
    confirmed: bool  # the caller's ACK came
    ran: bool  # the application ran the call (after the ACK, unless the call ended first)


@dataclass(frozen=True)
class SipServerOptions:
    host: str = "127.0.0.1"
    port: int = 5060
    tcp: bool = True
    advertised_host: str | None = None
    allowed_peers: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    rtp_ports: tuple[int, int] = (20000, 20999)
    numbers: Mapping[str, str] | None = None
    default_business: str = "demo-salon"
    auth: DigestAuth | None = None
    transfer_uri: str | None = None
    transfer_number: str | None = None
    answer_delay_s: float = 0.0
    rate_per_s: float = 20.0
    rate_burst: float = 40.0
    pin_clock: bool = False  # honour X-Voice-Agent-Now (never in production)
    max_call_s: float = 1800.0  # then the call is ended (BYE), as Twilio's session timeout

    @classmethod
    def from_settings(cls, s: Settings) -> SipServerOptions:
        auth = None
        if s.sip_username and s.sip_password is not None:
            auth = DigestAuth(username=s.sip_username, password=s.sip_password.get_secret_value())
        return cls(host=s.sip_host, port=s.sip_port, tcp=s.sip_tcp,
                   advertised_host=s.sip_advertised_host, allowed_peers=tuple(s.sip_peers),
                   rtp_ports=(s.sip_rtp_port_min, s.sip_rtp_port_max), numbers=s.sip_numbers,
                   default_business=s.default_business, auth=auth,
                   transfer_uri=s.sip_transfer_uri, transfer_number=s.transfer_number,
                   answer_delay_s=s.sip_answer_delay_s, rate_per_s=s.sip_rate_per_s,
                   rate_burst=s.sip_rate_burst, pin_clock=s.env != "prod",
                   max_call_s=float(s.max_call_seconds))


def _advertised(host: str) -> str:
    if host not in ("0.0.0.0", "::"):
        return host
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing address
        return str(s.getsockname()[0])
    return "127.0.0.1"


class SipServer:
    def __init__(self, options: SipServerOptions, *, handler: CallHandler,
                 businesses: Mapping[str, Business], admission: Admission,
                 ready: Callable[[], bool] = lambda: True,
                 draining: Callable[[], bool] = lambda: False,
                 now: Callable[[], datetime] | None = None) -> None:
        self.options = options
        self.handler = handler
        self.businesses = businesses
        self.admission = admission
        self.ready, self.draining = ready, draining
        self._now = now
        self.media_host = options.advertised_host or _advertised(options.host)
        self.uas: SipUas | None = None
        self.udp: SipUdpServer | None = None
        self.tcp: SipTcpServer | None = None
        self.port = 0
        self._media: dict[str, RtpSession] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.finished: list[FinishedCall] = []  # recent last

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> int:
        o = self.options
        allowed = AllowList(list(o.allowed_peers))
        # One port for UDP and TCP: bind UDP first (port 0 picks one), then TCP on it.
        probe = SipUas(UasOptions(host=self.media_host, port=o.port), self)
        self.udp = SipUdpServer(probe, allowed=allowed)
        self.port = await self.udp.start(o.host, o.port)
        self.uas = SipUas(UasOptions(host=self.media_host, port=self.port,
                                     answer_delay_s=o.answer_delay_s, auth=o.auth,
                                     new_requests_per_s=o.rate_per_s,
                                     new_requests_burst=o.rate_burst), self)
        self.udp.uas = self.uas
        if o.tcp:
            self.tcp = SipTcpServer(self.uas, allowed=allowed)
            await self.tcp.start(o.host, self.port)
        log.info("SIP listening on %s:%d (UDP%s), RTP ports %d-%d", o.host, self.port,
                 "+TCP" if o.tcp else "", *o.rtp_ports)
        return self.port

    async def stop(self) -> None:
        if self.uas is not None:
            await self.uas.close()
        for task in list(self._tasks.values()):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        for media in list(self._media.values()):
            await media.close()
        self._media.clear()
        if self.udp is not None:
            self.udp.close()
        if self.tcp is not None:
            await self.tcp.close()

    @property
    def active(self) -> int:
        return len(self._tasks)

    @property
    def open_media(self) -> int:
        return len(self._media)

    # --- CallApp --------------------------------------------------------------------------------

    def business_for(self, called: str | None) -> Business | None:
        numbers = self.options.numbers or {}
        name = numbers.get(called or "") or (called if called in self.businesses else None)
        return self.businesses.get(name or self.options.default_business)

    async def answer(self, call: SipCall) -> str | Refusal:
        if not self.ready() or self.draining():
            return Refusal(503, "Service Unavailable")
        business = self.business_for(call.called)
        if business is None:
            return Refusal(404, "Not Found")
        if not self.admission.admit(call.call_id):
            log.warning("SIP call refused: %d of %d places in use", self.admission.in_use,
                        self.admission.limit)
            return Refusal(486, "Busy Here")
        media = RtpSession(offer=call.offer, peer_ips={call.source[0]})
        try:
            port = await media.open(self.options.host, self.options.rtp_ports)
        except OSError:
            log.error("SIP call refused: no free RTP port")
            return Refusal(503, "Service Unavailable")
        self._media[call.call_id] = media
        media.start()
        self._tasks[call.call_id] = asyncio.create_task(
            self._run(call, media, business), name=f"sip-call-{call.call_id[:16]}")
        return build_answer(call.offer, address=self.media_host, port=port,
                            session_id=port * 1000 + 1, version=call.sdp_version)

    def reinvite(self, call: SipCall, offer: MediaOffer) -> str | None:
        media = self._media.get(call.call_id)
        if media is None:
            return None
        media.update(offer)
        call.sdp_version += 1
        log.info("call %s re-INVITE: %s", call.call_id[:24],
                 "hold" if offer.on_hold else "resume")
        return build_answer(offer, address=self.media_host, port=media.port,
                            session_id=media.port * 1000 + 1, version=call.sdp_version)

    def ended(self, call: SipCall) -> None:
        task = self._tasks.get(call.call_id)
        if task is None:  # refused or cancelled before a pipeline started
            self.admission.release(call.call_id)
            media = self._media.pop(call.call_id, None)
            if media is not None:
                media.abort()

    # --- one call ---------------------------------------------------------------------------------

    async def _run(self, call: SipCall, media: RtpSession, business: Business) -> None:
        transport = SipCallTransport(
            media=media, call_id=call.call_id, hang_up=call.hangup,
            transfer=self._transfer_for(call))
        leg = CallLeg(provider="sip", provider_call_id=call.call_id[:64],
                      stream_id=call.call_id[:64], caller=call.caller, business=business,
                      now=self._pinned(call) or (self._now() if self._now else datetime.now()
                                                 .astimezone()),
                      transfer=(lambda: setattr(transport, "transfer_requested", True))
                      if self._transfer_target(call) else None)

        async def watch_bye() -> None:
            await call.ended.wait()
            await transport.caller_hung_up()

        watcher = asyncio.create_task(watch_bye())
        ran = False
        try:
            # The pipeline starts once the caller has ACKed our 200: starting it costs the
            # event loop a moment, and the ACK that stops the 200's retransmission comes first.
            confirmed = asyncio.ensure_future(call.confirmed.wait())
            ended = asyncio.ensure_future(call.ended.wait())
            await asyncio.wait([confirmed, ended], return_when=asyncio.FIRST_COMPLETED)
            confirmed.cancel()
            ended.cancel()
            if call.ended.is_set():
                return
            self.admission.take(call.call_id)
        except AdmissionFull:
            call.hangup()
        else:
            ran = True
            try:
                async with asyncio.timeout(self.options.max_call_s):
                    await self.handler(transport, leg)
            except TimeoutError:
                log.warning("SIP call %s ended: longer than %.0f s", call.call_id[:24],
                            self.options.max_call_s)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("SIP call %s failed", call.call_id[:24])
            finally:
                self.admission.release(call.call_id)
        finally:
            watcher.cancel()
            if not call.ended.is_set():
                call.hangup()
            await media.close()
            self._media.pop(call.call_id, None)
            self._tasks.pop(call.call_id, None)
            self.finished.append(FinishedCall(call.call_id, call.end_reason,
                                              call.confirmed.is_set(), ran))
            del self.finished[:-200]

    def _pinned(self, call: SipCall) -> datetime | None:
        value = call.invite.headers.get(NOW_HEADER)
        if not value or not self.options.pin_clock:
            return None
        try:
            return datetime.fromisoformat(value[:40])
        except ValueError:
            return None

    def _transfer_target(self, call: SipCall) -> str | None:
        if self.options.transfer_uri:
            return self.options.transfer_uri
        if self.options.transfer_number:
            return f"sip:{self.options.transfer_number}@{call.source[0]}"
        return None

    def _transfer_for(self, call: SipCall) -> Callable[[], Awaitable[bool]] | None:
        target = self._transfer_target(call)
        if target is None or call.transfer is None:
            return None
        refer = call.transfer
        return lambda: refer(target)
