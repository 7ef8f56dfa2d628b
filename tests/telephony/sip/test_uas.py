"""The UAS state machine, fed bytes and watched through what it sends (no sockets)."""

from __future__ import annotations

import asyncio

import pytest

from tests.telephony.sip.messages import OFFER, invite, request
from voice_agent.telephony.sip.auth import DigestAuth, digest_response, parse_digest
from voice_agent.telephony.sip.message import SipRequest, SipResponse, parse_message
from voice_agent.telephony.sip.sdp import MediaOffer, build_answer
from voice_agent.telephony.sip.uas import Refusal, SipCall, SipUas, UasOptions

SOURCE = ("127.0.0.1", 5099)


class App:
    def __init__(self, refuse: Refusal | None = None) -> None:
        self.refuse = refuse
        self.answered: list[SipCall] = []
        self.ended_calls: list[SipCall] = []
        self.reinvites: list[MediaOffer] = []

    async def answer(self, call: SipCall) -> str | Refusal:
        if self.refuse:
            return self.refuse
        self.answered.append(call)
        return build_answer(call.offer, address="127.0.0.1", port=30000, session_id=1, version=1)

    def reinvite(self, call: SipCall, offer: MediaOffer) -> str | None:
        self.reinvites.append(offer)
        return build_answer(offer, address="127.0.0.1", port=30000, session_id=1, version=2)

    def ended(self, call: SipCall) -> None:
        self.ended_calls.append(call)


class Wire:
    def __init__(self, uas: SipUas) -> None:
        self.uas = uas
        self.out: list[SipRequest | SipResponse] = []

    def send(self, data: bytes) -> None:
        self.uas.receive(data, SOURCE, self.out_append)

    def out_append(self, data: bytes) -> None:
        self.out.append(parse_message(data))

    def statuses(self) -> list[int]:
        return [m.status for m in self.out if isinstance(m, SipResponse)]

    def last(self, status: int) -> SipResponse:
        return [m for m in self.out if isinstance(m, SipResponse) and m.status == status][-1]


def make(app: App | None = None, **options: object) -> tuple[SipUas, Wire, App]:
    app = app or App()
    uas = SipUas(UasOptions(host="127.0.0.1", port=5060, t1=0.05, **options), app)  # type: ignore[arg-type]
    return uas, Wire(uas), app


async def settle(seconds: float = 0.02) -> None:
    await asyncio.sleep(seconds)


async def answered(wire: Wire) -> str:
    wire.send(invite())
    await settle()
    assert wire.statuses() == [100, 180, 200]  # one 200 until T1 has passed
    return wire.last(200).to_tag


async def test_invite_is_answered_with_the_offered_telephone_event_type() -> None:
    _uas, wire, app = make()
    wire.send(invite())
    await settle()
    ok = wire.last(200)
    assert ok.to_tag and ok.headers.get("Contact")
    body = ok.body.decode()
    assert "m=audio 30000 RTP/AVP 0 101" in body and "a=rtpmap:101 telephone-event/8000" in body
    assert app.answered[0].caller == "+15551230001" and app.answered[0].called == "+15550001111"


async def test_200_is_resent_until_the_ack_then_stops() -> None:
    _uas, wire, app = make()
    tag = await answered(wire)
    await settle(0.2)  # t1 = 50 ms: resent at 50, 150 ms
    resent = wire.statuses().count(200)
    assert resent >= 3
    wire.send(request("ACK", to_tag=tag, branch="z9hG4bK-ack", cseq_method="ACK"))
    await settle(0.3)
    assert wire.statuses().count(200) == resent
    assert app.answered[0].state == "confirmed"


async def test_a_retransmitted_invite_gets_the_same_answer_not_a_second_call() -> None:
    _uas, wire, app = make()
    tag = await answered(wire)
    wire.send(invite())
    await settle()
    assert len(app.answered) == 1 and wire.last(200).to_tag == tag


async def test_bye_ends_the_call_and_a_retransmitted_bye_gets_200_again() -> None:
    uas, wire, app = make()
    tag = await answered(wire)
    wire.send(request("ACK", to_tag=tag, branch="z9hG4bK-ack", cseq_method="ACK"))
    bye = request("BYE", to_tag=tag, branch="z9hG4bK-bye", cseq=2)
    wire.send(bye)
    wire.send(bye)  # its 200 was lost: the retransmission must not get a 481
    assert wire.statuses()[-2:] == [200, 200]
    assert app.ended_calls[0].end_reason == "caller_hung_up" and not uas.calls


async def test_bye_before_the_ack_ends_the_call_and_stops_the_200() -> None:
    uas, wire, app = make()
    tag = await answered(wire)
    wire.send(request("BYE", to_tag=tag, branch="z9hG4bK-bye", cseq=2))
    count = wire.statuses().count(200)
    await settle(0.3)
    assert wire.statuses().count(200) == count
    assert app.ended_calls and not uas.calls


async def test_bye_with_a_wrong_tag_is_481() -> None:
    _uas, wire, app = make()
    await answered(wire)
    wire.send(request("BYE", to_tag="nope", branch="z9hG4bK-bye", cseq=2))
    assert wire.statuses()[-1] == 481 and not app.ended_calls


async def test_cancel_while_ringing_is_200_then_487_resent_until_acked() -> None:
    uas, wire, app = make(answer_delay_s=0.5)
    wire.send(invite())
    await settle()
    assert wire.statuses() == [100, 180]
    wire.send(request("CANCEL", cseq_method="CANCEL"))
    assert wire.statuses() == [100, 180, 200, 487]  # one 487 until T1 has passed
    await settle(0.12)
    assert wire.statuses()[2:4] == [200, 487]
    assert wire.statuses().count(487) >= 2  # resent on T1 until the ACK
    wire.send(request("ACK", to_tag=wire.last(487).to_tag, cseq_method="ACK"))
    n = len(wire.out)
    await settle(0.6)
    assert len(wire.out) == n and not app.answered and not uas.calls
    assert app.ended_calls[0].end_reason == "cancelled"


async def test_cancel_for_an_unknown_transaction_is_481() -> None:
    _uas, wire, _app = make()
    wire.send(request("CANCEL", branch="z9hG4bK-other"))
    assert wire.statuses() == [481]


async def test_reinvite_hold_and_resume() -> None:
    _uas, wire, app = make()
    tag = await answered(wire)
    wire.send(request("ACK", to_tag=tag, branch="z9hG4bK-ack", cseq_method="ACK"))
    wire.send(invite(direction="sendonly", to_tag=tag, branch="z9hG4bK-re1", cseq=2))
    assert app.reinvites[-1].on_hold and "a=recvonly" in wire.last(200).body.decode()
    wire.send(invite(direction="sendrecv", to_tag=tag, branch="z9hG4bK-re2", cseq=3))
    assert not app.reinvites[-1].on_hold and "a=sendrecv" in wire.last(200).body.decode()
    wire.send(invite(direction="sendrecv", to_tag=tag, branch="z9hG4bK-re3", cseq=3))
    assert wire.statuses()[-1] == 500  # a CSeq that did not increase


@pytest.mark.parametrize(("refusal", "status"), [(Refusal(486, "Busy Here"), 486),
                                                 (Refusal(503, "Service Unavailable"), 503)])
async def test_refusals_are_final_and_end_the_call(refusal: Refusal, status: int) -> None:
    uas, wire, _app = make(App(refuse=refusal))
    wire.send(invite())
    await settle()
    assert wire.statuses()[-1] == status
    wire.send(request("ACK", to_tag=wire.last(status).to_tag, cseq_method="ACK"))
    assert not uas.calls


async def test_agent_hang_up_waits_for_the_ack_then_byes() -> None:
    uas, wire, app = make()
    tag = await answered(wire)
    call = app.answered[0]
    call.hangup()
    await settle()
    assert not any(isinstance(m, SipRequest) for m in wire.out)  # not before the ACK
    wire.send(request("ACK", to_tag=tag, branch="z9hG4bK-ack", cseq_method="ACK"))
    await settle()
    bye = next(m for m in wire.out if isinstance(m, SipRequest))
    assert bye.method == "BYE" and bye.from_tag == tag and bye.to_tag == "ft1"
    assert bye.uri == "sip:caller@127.0.0.1:5099"
    wire.send(b"SIP/2.0 200 OK\r\n" + b"\r\n".join(
        f"{n}: {bye.headers.get(n)}".encode() for n in ("Via", "From", "To", "Call-ID", "CSeq"))
        + b"\r\nContent-Length: 0\r\n\r\n")
    await settle()
    assert not uas.calls and call.end_reason == "agent_hung_up"


async def test_refer_then_notify_is_a_transfer() -> None:
    uas, wire, app = make()
    tag = await answered(wire)
    wire.send(request("ACK", to_tag=tag, branch="z9hG4bK-ack", cseq_method="ACK"))
    call = app.answered[0]
    transfer = asyncio.create_task(uas.transfer(call, "sip:+15559990000@127.0.0.1"))
    await settle()
    refer = next(m for m in wire.out if isinstance(m, SipRequest))
    assert refer.method == "REFER" and refer.headers.get("Refer-To") == \
        "<sip:+15559990000@127.0.0.1>"
    head = b"\r\n".join(f"{n}: {refer.headers.get(n)}".encode()
                        for n in ("Via", "From", "To", "Call-ID", "CSeq"))
    wire.send(b"SIP/2.0 202 Accepted\r\n" + head + b"\r\nContent-Length: 0\r\n\r\n")
    frag = "SIP/2.0 200 OK\r\n"
    wire.send(request("NOTIFY", to_tag=tag, branch="z9hG4bK-n1", cseq=2, body=frag,
                      extra="Event: refer\r\nSubscription-State: terminated\r\n"))
    assert await asyncio.wait_for(transfer, 1) is True
    assert wire.statuses()[-1] == 200 and call.end_reason == "transferred"


async def test_options_unknown_methods_and_missing_headers() -> None:
    _uas, wire, _app = make()
    wire.send(request("OPTIONS"))
    assert wire.statuses() == [200] and "INVITE" in (wire.out[-1].headers.get("Allow") or "")
    wire.send(request("SUBSCRIBE", branch="z9hG4bK-2"))
    assert wire.statuses()[-1] == 405
    wire.send(request("OPTIONS", branch="z9hG4bK-3").replace(b"Call-ID: c1@test\r\n", b""))
    assert wire.statuses()[-1] == 400
    wire.send(request("OPTIONS", branch="z9hG4bK-4", content_length=500))  # body missing
    assert wire.statuses()[-1] == 400
    wire.send(b"\x00\x01garbage")
    wire.send(b"\r\n\r\n")  # keep-alive
    assert len(wire.out) == 4


async def test_an_invite_without_a_usable_offer_is_488() -> None:
    _uas, wire, app = make()
    wire.send(request("INVITE", body=OFFER.format(port=4000, direction="sendrecv")
                      .replace("RTP/AVP 0 8 101", "RTP/AVP 18")))
    await settle()
    assert wire.statuses()[-1] == 488 and not app.answered


async def test_digest_auth_challenges_then_admits() -> None:
    auth = DigestAuth(username="trunk", password="s3cret")
    _uas, wire, app = make(auth=auth)
    wire.send(invite())
    assert wire.statuses() == [401]
    challenge = parse_digest(wire.last(401).headers.get("WWW-Authenticate") or "")
    uri = "sip:+15550001111@127.0.0.1"

    def credentials(password: str) -> str:
        response = digest_response(
            username="trunk", realm=challenge["realm"], password=password, method="INVITE",
            uri=uri, nonce=challenge["nonce"], nc="00000001", cnonce="abc", qop="auth")
        return (f'Authorization: Digest username="trunk", realm="{challenge["realm"]}", '
                f'nonce="{challenge["nonce"]}", uri="{uri}", response="{response}", '
                f'qop=auth, nc=00000001, cnonce="abc", algorithm=MD5\r\n')

    wire.send(invite(branch="z9hG4bK-2", cseq=2, extra=credentials("wrong")))
    assert wire.statuses()[-1] == 401
    wire.send(invite(branch="z9hG4bK-3", cseq=3, extra=credentials("s3cret")))
    await settle()
    assert wire.statuses()[2:5] == [100, 180, 200] and app.answered


async def test_new_requests_beyond_the_rate_are_dropped_silently() -> None:
    uas, wire, _app = make(new_requests_per_s=1, new_requests_burst=3)
    for i in range(10):
        wire.send(request("OPTIONS", branch=f"z9hG4bK-f{i}", call_id=f"f{i}"))
    assert wire.statuses() == [200, 200, 200] and uas.stats["dropped"] == 7
