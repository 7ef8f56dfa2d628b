"""Hostile SIP at the real sockets: each gets a 4xx or silence, and the server keeps serving."""

from __future__ import annotations

import asyncio
import socket

from tests.telephony.sip.app import sip_test_app
from tests.telephony.sip.messages import OFFER, invite, request
from voice_agent.telephony.sip.message import SipResponse, parse_message


def udp_exchange(port: int, datagrams: list[bytes], wait_s: float = 0.3) -> list[int]:
    """Send datagrams from one socket; the statuses of every response that came back."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        for data in datagrams:
            s.sendto(data, ("127.0.0.1", port))
        s.settimeout(wait_s)
        statuses = []
        while True:
            try:
                raw, _ = s.recvfrom(65535)
            except TimeoutError:
                return statuses
            msg = parse_message(raw)
            assert isinstance(msg, SipResponse)
            statuses.append(msg.status)


async def exchange(port: int, datagrams: list[bytes], wait_s: float = 0.3) -> list[int]:
    return await asyncio.to_thread(udp_exchange, port, datagrams, wait_s)


async def alive(port: int) -> bool:
    await asyncio.sleep(0.3)  # let the per-source rate limit refill
    return await exchange(port, [request("OPTIONS", branch="z9hG4bK-alive",
                                         call_id="alive")]) == [200]


async def test_malformed_messages_get_a_4xx_or_silence() -> None:
    async with sip_test_app() as app:
        cases = {
            "truncated": invite()[:180],
            "huge headers": invite().replace(b"Max-Forwards: 70", b"X-Pad: " + b"a" * 60_000),
            "many headers": invite().replace(b"Max-Forwards: 70\r\n", b"X: y\r\n" * 500),
            "long Content-Length": invite(content_length=9999, call_id="cl"),
            "negative Content-Length": invite(call_id="neg").replace(b"Content-Length: ",
                                                                     b"Content-Length: -"),
            "binary": bytes(range(256)) * 4,
            "no Call-ID": request("INVITE", call_id=""),
            "CSeq mismatch": request("INVITE", cseq_method="BYE", call_id="mm"),
            "unknown BYE": request("BYE", to_tag="x", call_id="nobody"),
        }
        for name, data in cases.items():
            statuses = await exchange(app.port, [data], wait_s=0.15)
            assert all(400 <= s < 500 for s in statuses), (name, statuses)
        assert app.calls == []
        assert await alive(app.port)


async def test_bad_sdp_is_488_and_nothing_starts() -> None:
    async with sip_test_app() as app:
        for i, body in enumerate(["v=0\r\nm=audio x RTP/AVP 0\r\n",
                                  OFFER.format(port=4000, direction="sendrecv").replace(
                                      "RTP/AVP 0 8 101", "RTP/AVP 18"),
                                  "\x00" * 300]):
            statuses = await exchange(app.port, [request("INVITE", body=body, call_id=f"b{i}",
                                                         branch=f"z9hG4bK-b{i}")])
            assert statuses[-1] in (400, 488), statuses
        assert app.calls == [] and app.server.open_media == 0
        assert await alive(app.port)


async def test_an_invite_flood_is_bounded_and_refused_past_capacity() -> None:
    async with sip_test_app(capacity=3) as app:
        flood = [invite(call_id=f"flood-{i}", branch=f"z9hG4bK-fl{i}") for i in range(150)]
        statuses = await exchange(app.port, flood, wait_s=0.8)
        finals = [s for s in statuses if s >= 200]
        assert finals.count(200) <= 3 * 6  # at most 3 answered (each 200 resent on T1)
        assert 486 in finals and all(s in (200, 486) for s in finals)
        uas = app.server.uas
        assert uas is not None and uas.stats["dropped"] >= 100  # past the burst: silence
        assert app.server.active <= 3
        assert await alive(app.port)
    assert app.server.open_media == 0


async def test_hostile_tcp_connections_are_closed_and_the_server_goes_on() -> None:
    async with sip_test_app() as app:
        for data in (b"garbage\r\n\r\n", b"INVITE sip:a@b SIP/2.0\r\nX: " + b"y" * 70_000,
                     request("OPTIONS").replace(b"Content-Length: 0", b"Content-Length: 99999"),
                     request("OPTIONS").replace(b"Content-Length: 0\r\n", b"")):
            reader, writer = await asyncio.open_connection("127.0.0.1", app.port)
            writer.write(data)
            await writer.drain()
            got = await asyncio.wait_for(reader.read(65535), 2)
            if got:
                status = parse_message(got)
                assert isinstance(status, SipResponse) and 400 <= status.status < 500
            writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", app.port)
        writer.write(request("OPTIONS", branch="z9hG4bK-tcp"))
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
        assert head.startswith(b"SIP/2.0 200")
        writer.close()
