"""The SIP user agent server (RFC 3261): requests in, responses and our own requests out.

Socket-free: :meth:`SipUas.receive` takes one message's bytes and a ``reply`` function that
sends bytes back the way they came (UDP to the source address, or the TCP connection); the
transports live in ``transport.py``. What a call *does* is the application's
(:class:`CallApp`): it is asked to answer an INVITE (an SDP answer or a refusal), told of
re-INVITEs, and told when a call has ended, whichever side ended it.

Handled: INVITE → 100, 180, 200 with the SDP answer, the 200 resent (T1 doubling to T2) until
the ACK, a BYE from us after 64·T1 without one; retransmitted requests answered from the
transaction cache; CANCEL → 200 + 487 (resent until its ACK); BYE both ways, also before the
ACK; OPTIONS; re-INVITE (hold, resume, new codec or address); REFER (blind transfer) and its
NOTIFYs; digest authentication and a per-source rate limit on new requests; anything else 405.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from voice_agent.logging_utils import mask_phone
from voice_agent.telephony.sip.auth import DigestAuth
from voice_agent.telephony.sip.dialog import ALLOW, Dialog, new_tag, response_to, uri_user
from voice_agent.telephony.sip.message import (
    SipParseError,
    SipRequest,
    SipResponse,
    parse_message,
)
from voice_agent.telephony.sip.sdp import MediaOffer, SdpError, parse_offer
from voice_agent.telephony.sip.transactions import (
    T1,
    Retransmitter,
    Send,
    ServerTransactions,
    TokenBucket,
    transaction_key,
)

__all__ = ["CallApp", "Refusal", "SipCall", "SipUas", "UasOptions"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Refusal:
    status: int
    reason: str


@dataclass(frozen=True)
class UasOptions:
    host: str  # the address we put in Via and Contact
    port: int
    transport: str = "UDP"
    answer_delay_s: float = 0.0  # ringing before the answer (0: answer at once)
    auth: DigestAuth | None = None
    new_requests_per_s: float = 20.0  # per source address; 0 = no limit
    new_requests_burst: float = 40.0
    t1: float = T1
    transfer_wait_s: float = 8.0  # how long a REFER's NOTIFY is awaited before our BYE


@dataclass
class SipCall:
    """One inbound call, from the INVITE to its end."""

    dialog: Dialog
    invite: SipRequest
    offer: MediaOffer
    source: tuple[str, int]
    send: Send
    reliable: bool
    caller: str | None
    called: str | None
    state: str = "ringing"  # ringing | answered (200 sent) | confirmed (ACKed) | ended
    end_reason: str | None = None
    answer: str | None = None  # our current SDP answer
    sdp_version: int = 1
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    confirmed: asyncio.Event = field(default_factory=asyncio.Event)
    transferred: asyncio.Event = field(default_factory=asyncio.Event)
    retransmitter: Retransmitter | None = None
    hangup: Callable[[], None] = lambda: None  # BYE from us (set by the UAS)
    transfer: Callable[[str], Awaitable[bool]] | None = None  # REFER (set by the UAS)

    @property
    def call_id(self) -> str:
        return self.dialog.call_id


class CallApp(Protocol):
    async def answer(self, call: SipCall) -> str | Refusal: ...  # the SDP answer, or a no
    def reinvite(self, call: SipCall, offer: MediaOffer) -> str | None: ...  # new answer
    def ended(self, call: SipCall) -> None: ...


class SipUas:
    def __init__(self, options: UasOptions, app: CallApp) -> None:
        self.options = options
        self.app = app
        self.calls: dict[str, SipCall] = {}
        self.transactions = ServerTransactions()
        self._limiter = TokenBucket(rate=options.new_requests_per_s,
                                    burst=options.new_requests_burst)
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: dict[str, asyncio.Future[SipResponse]] = {}
        self.stats = {"received": 0, "malformed": 0, "dropped": 0, "resent": 0}

    # --- entry point ------------------------------------------------------------------------

    def receive(self, data: bytes, source: tuple[str, int], reply: Send, *,
                reliable: bool = False) -> None:
        self.stats["received"] += 1
        if not data.strip(b"\r\n"):
            return  # a keep-alive (CRLF ping)
        try:
            message = parse_message(data, stream=reliable)
            if isinstance(message, SipRequest):
                message.cseq  # noqa: B018  (validates it)
        except SipParseError as exc:
            self.stats["malformed"] += 1
            log.info("malformed SIP message from %s: %s", source[0], exc)
            self._bad_request(data, reply, str(exc))
            return
        if isinstance(message, SipResponse):
            self._on_response(message)
            return
        try:
            self._on_request(message, source, reply, reliable)
        except (SipParseError, SdpError) as exc:
            self.stats["malformed"] += 1
            self._reply(message, reply, 400, "Bad Request")
            log.info("bad %s from %s: %s", message.method, source[0], exc)

    def _bad_request(self, data: bytes, reply: Send, why: str) -> None:
        """A 400 when enough of the message survives to route one; silence otherwise."""
        try:
            request = parse_message(data.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n",
                                    headers_only=True)
        except SipParseError:
            return
        needed = ("Via", "From", "To", "Call-ID", "CSeq")
        if isinstance(request, SipRequest) and request.method != "ACK" and all(
                request.headers.get(h) for h in needed):
            reply(response_to(request, 400, "Bad Request").to_bytes())

    def _reply(self, request: SipRequest, reply: Send, status: int, reason: str, *,
               to_tag: str | None = None, body: bytes = b"",
               extra: list[tuple[str, str]] | None = None) -> bytes:
        data = response_to(request, status, reason, to_tag=to_tag or new_tag(), body=body,
                           extra=extra).to_bytes()
        if request.method != "ACK":
            self.transactions.respond(transaction_key(request), data)
        reply(data)
        return data

    # --- requests -----------------------------------------------------------------------------

    def _on_request(self, req: SipRequest, source: tuple[str, int], reply: Send,
                    reliable: bool) -> None:
        for name in ("Via", "From", "To", "Call-ID", "CSeq"):
            if not req.headers.get(name):
                raise SipParseError(f"missing {name}")
        if req.cseq[1] != req.method and req.method != "ACK":
            raise SipParseError("CSeq method differs from the request's")
        key = transaction_key(req)
        if req.method == "ACK":
            self._on_ack(req)
            return
        if self.transactions.seen(key, reply):
            self.stats["resent"] += 1
            return
        in_dialog = bool(req.to_tag)
        if not in_dialog and req.method != "CANCEL" and not self._limiter.allow(source[0]):
            self.stats["dropped"] += 1
            return  # a flood: silence costs nothing
        if self.transactions.full:
            self.stats["dropped"] += 1
            return
        self.transactions.begin(key)
        handler = {"INVITE": self._on_invite, "BYE": self._on_bye, "CANCEL": self._on_cancel,
                   "OPTIONS": self._on_options, "NOTIFY": self._on_notify}.get(req.method)
        if handler is None:
            self._reply(req, reply, 405, "Method Not Allowed", extra=[("Allow", ALLOW)])
            return
        handler(req, source, reply, reliable)

    def _on_options(self, req: SipRequest, source: tuple[str, int], reply: Send,
                    reliable: bool) -> None:
        self._reply(req, reply, 200, "OK", extra=[("Allow", ALLOW), ("Accept", "application/sdp"),
                                                  ("Supported", "")])

    def _on_invite(self, req: SipRequest, source: tuple[str, int], reply: Send,
                   reliable: bool) -> None:
        call = self.calls.get(req.call_id)
        if req.to_tag:
            if call is None or not call.dialog.matches(req):
                self._reply(req, reply, 481, "Call/Transaction Does Not Exist")
            else:
                self._on_reinvite(call, req, reply)
            return
        if call is not None:  # a new INVITE reusing a live Call-ID (a loop or a fork)
            self._reply(req, reply, 482, "Loop Detected")
            return
        auth = self.options.auth
        if auth is not None and not auth.verify("INVITE", req.headers.get("Authorization")):
            self._reply(req, reply, 401, "Unauthorized",
                        extra=[("WWW-Authenticate", auth.challenge())])
            return
        if "application/sdp" not in (req.headers.get("Content-Type") or "").lower():
            self._reply(req, reply, 488, "Not Acceptable Here")  # no offer: we do not offer
            return
        try:
            offer = parse_offer(req.body.decode("utf-8", "replace"))
        except SdpError as exc:
            log.info("INVITE from %s refused: %s", source[0], exc)
            self._reply(req, reply, 488, "Not Acceptable Here")
            return
        tag = new_tag()
        dialog = Dialog.from_invite(req, local_tag=tag, via_host=self.options.host,
                                    via_port=self.options.port,
                                    transport="TCP" if reliable else "UDP")
        call = SipCall(dialog=dialog, invite=req, offer=offer, source=source, send=reply,
                       reliable=reliable, caller=uri_user(req.headers.get("From") or ""),
                       called=uri_user(req.uri) or uri_user(req.headers.get("To") or ""))
        call.hangup = lambda: self.hang_up(call)
        call.transfer = lambda target: self.transfer(call, target)
        self.calls[req.call_id] = call
        self._reply(req, reply, 100, "Trying")
        log.info("INVITE %s from %s for %s", req.call_id[:24], mask_phone(call.caller),
                 mask_phone(call.called))
        self._spawn(self._answer(call))

    async def _answer(self, call: SipCall) -> None:
        req = call.invite
        tag = call.dialog.local_tag
        self._reply(req, call.send, 180, "Ringing", to_tag=tag, extra=self._contact())
        if self.options.answer_delay_s:
            await asyncio.sleep(self.options.answer_delay_s)
        answer: str | Refusal = Refusal(487, "Request Terminated")
        if call.state == "ringing":
            try:
                answer = await self.app.answer(call)
            except Exception:
                log.exception("answering call %s failed", call.call_id[:24])
                answer = Refusal(500, "Server Internal Error")
        if call.state != "ringing":  # cancelled meanwhile: the 487 has gone out
            self._end(call, call.end_reason or "cancelled", keep=True)
            return
        if isinstance(answer, Refusal):
            self._final_error(call, answer.status, answer.reason)
            self._end(call, f"refused_{answer.status}", keep=True)
            return
        call.answer = answer
        data = self._reply(req, call.send, 200, "OK", to_tag=tag, body=answer.encode(),
                           extra=self._contact())
        call.state = "answered"
        call.retransmitter = Retransmitter(lambda d: call.send(d), data, reliable=call.reliable,
                                           on_timeout=lambda: self._ack_timeout(call),
                                           t1=self.options.t1, sent=True)

    def _final_error(self, call: SipCall, status: int, reason: str) -> None:
        """A non-2xx final answer to the INVITE, resent until its ACK (Timer G/H)."""
        data = self._reply(call.invite, call.send, status, reason, to_tag=call.dialog.local_tag)
        call.state = "rejected"
        call.retransmitter = Retransmitter(
            lambda d: call.send(d), data, reliable=call.reliable,
            on_timeout=lambda: self.calls.pop(call.call_id, None), t1=self.options.t1,
            sent=True)

    def _contact(self) -> list[tuple[str, str]]:
        o = self.options
        return [("Contact", f"<sip:voice-agent@{o.host}:{o.port};transport={o.transport.lower()}>"),
                ("Allow", ALLOW)]

    def _on_reinvite(self, call: SipCall, req: SipRequest, reply: Send) -> None:
        if req.cseq[0] <= call.dialog.remote_cseq:
            self._reply(req, reply, 500, "Server Internal Error", to_tag=call.dialog.local_tag)
            return
        call.dialog.remote_cseq = req.cseq[0]
        answer: str | None = call.answer
        if req.body:
            try:
                offer = parse_offer(req.body.decode("utf-8", "replace"))
            except SdpError:
                self._reply(req, reply, 488, "Not Acceptable Here", to_tag=call.dialog.local_tag)
                return
            call.offer = offer
            answer = self.app.reinvite(call, offer) or answer
        if call.retransmitter is not None:
            call.retransmitter.stop()
        call.invite = req
        data = self._reply(req, reply, 200, "OK", to_tag=call.dialog.local_tag,
                           body=(answer or "").encode(), extra=self._contact())
        call.retransmitter = Retransmitter(lambda d: call.send(d), data, reliable=call.reliable,
                                           t1=self.options.t1, sent=True)

    def _on_ack(self, req: SipRequest) -> None:
        call = self.calls.get(req.call_id)
        if call is None or req.from_tag != call.dialog.remote_tag or (
                req.to_tag and req.to_tag != call.dialog.local_tag):
            return
        if call.retransmitter is not None:
            call.retransmitter.stop()
            self.stats["resent"] += call.retransmitter.resent
        if call.state == "answered":
            call.state = "confirmed"
            call.confirmed.set()
        elif call.state == "rejected":
            self.calls.pop(call.call_id, None)

    def _on_bye(self, req: SipRequest, source: tuple[str, int], reply: Send,
                reliable: bool) -> None:
        call = self.calls.get(req.call_id)
        if call is None or not call.dialog.matches(req) or call.state == "rejected":
            self._reply(req, reply, 481, "Call/Transaction Does Not Exist")
            return
        self._reply(req, reply, 200, "OK", to_tag=call.dialog.local_tag)
        self._end(call, "caller_hung_up")

    def _on_cancel(self, req: SipRequest, source: tuple[str, int], reply: Send,
                   reliable: bool) -> None:
        call = self.calls.get(req.call_id)
        if call is None or call.invite.branch != req.branch or req.to_tag:
            self._reply(req, reply, 481, "Call/Transaction Does Not Exist")
            return
        self._reply(req, reply, 200, "OK", to_tag=call.dialog.local_tag)
        if call.state == "ringing":  # too late once answered: the caller will BYE
            self._final_error(call, 487, "Request Terminated")
            call.end_reason = "cancelled"

    def _on_notify(self, req: SipRequest, source: tuple[str, int], reply: Send,
                   reliable: bool) -> None:
        call = self.calls.get(req.call_id)
        if call is None or not call.dialog.matches(req):
            self._reply(req, reply, 481, "Call/Transaction Does Not Exist")
            return
        self._reply(req, reply, 200, "OK", to_tag=call.dialog.local_tag)
        frag = req.body.decode("utf-8", "replace").split("\r\n", 1)[0].split()
        if len(frag) >= 2 and frag[1].isdigit() and 200 <= int(frag[1]) < 300:
            call.transferred.set()

    # --- responses to our requests ------------------------------------------------------------

    def _on_response(self, resp: SipResponse) -> None:
        future = self._client.get(resp.branch)
        if future is not None and not future.done() and resp.status >= 200:
            future.set_result(resp)

    async def _request(self, call: SipCall, method: str,
                       extra: list[tuple[str, str]] | None = None) -> SipResponse | None:
        req = call.dialog.request(method, extra=extra)
        future: asyncio.Future[SipResponse] = asyncio.get_running_loop().create_future()
        self._client[req.branch] = future
        sender = Retransmitter(lambda d: call.send(d), req.to_bytes(), reliable=call.reliable,
                               on_timeout=lambda: future.done() or future.cancel(),
                               t1=self.options.t1)
        try:
            return await future
        except asyncio.CancelledError:
            if future.cancelled():
                return None  # no answer within 64·T1
            raise
        finally:
            sender.stop()
            self.stats["resent"] += sender.resent
            self._client.pop(req.branch, None)

    # --- ending calls -----------------------------------------------------------------------------

    def hang_up(self, call: SipCall) -> None:
        """BYE from us (after the ACK: a callee must not BYE an unconfirmed dialog)."""
        if call.state in ("ended", "rejected"):
            return
        self._spawn(self._bye(call))

    async def _bye(self, call: SipCall) -> None:
        if call.state == "ringing":
            return  # the application only runs answered calls
        if call.state == "answered":
            try:
                async with asyncio.timeout(64 * self.options.t1):
                    await call.confirmed.wait()
            except TimeoutError:
                pass
        if call.state == "ended":
            return
        self._end(call, call.end_reason or "agent_hung_up", keep=True)
        await self._request(call, "BYE")
        self.calls.pop(call.call_id, None)

    async def transfer(self, call: SipCall, target: str) -> bool:
        """Blind transfer (RFC 3515): REFER the caller to ``target``, wait for the NOTIFY
        that it connected (or ``transfer_wait_s``), then BYE. False if the REFER was refused."""
        if call.state != "confirmed":
            return False
        resp = await self._request(call, "REFER", extra=[
            ("Refer-To", f"<{target}>"),
            ("Referred-By", f"<sip:voice-agent@{self.options.host}:{self.options.port}>")])
        if resp is None or not 200 <= resp.status < 300:
            return False
        try:
            async with asyncio.timeout(self.options.transfer_wait_s):
                await call.transferred.wait()
        except TimeoutError:
            log.warning("transfer of %s: no NOTIFY of success in time", call.call_id[:24])
        call.end_reason = "transferred"
        return True

    def _ack_timeout(self, call: SipCall) -> None:
        log.warning("no ACK for the 200 of %s: hanging up", call.call_id[:24])
        call.end_reason = "no_ack"
        call.state = "confirmed"  # the BYE must not wait for an ACK any more
        self.hang_up(call)

    def _end(self, call: SipCall, reason: str, *, keep: bool = False) -> None:
        """The call is over for the application; ``keep`` leaves the dialog to absorb the
        ACK or our BYE's answer."""
        if call.retransmitter is not None and call.state != "rejected":
            call.retransmitter.stop()
        if not keep:
            self.calls.pop(call.call_id, None)
        if call.ended.is_set():
            return
        call.end_reason = call.end_reason or reason
        if call.state != "rejected":
            call.state = "ended"
        call.ended.set()
        log.info("call %s ended: %s", call.call_id[:24], call.end_reason)
        try:
            self.app.ended(call)
        except Exception:
            log.exception("ending call %s failed", call.call_id[:24])

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for call in list(self.calls.values()):
            if call.state in ("answered", "confirmed"):
                call.confirmed.set()
                self.hang_up(call)
        if self._tasks:  # our BYEs get a moment for their answers, then are given up
            await asyncio.wait(list(self._tasks), timeout=8 * self.options.t1)
        pending = list(self._tasks)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for call in list(self.calls.values()):
            if call.retransmitter is not None:
                call.retransmitter.stop()
            self._end(call, "shutdown")
