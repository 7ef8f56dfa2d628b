"""SIP over UDP and TCP (RFC 3261 §18): sockets only; messages go to :class:`SipUas`.

A datagram is one message. TCP is framed by Content-Length (required there), with bounded
headers and body, an idle timeout and a cap on connections. Sources outside the allow-list
are ignored before anything is parsed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import Callable

from voice_agent.telephony.sip.message import (
    MAX_BODY_BYTES,
    MAX_MESSAGE_BYTES,
    SipParseError,
    SipRequest,
    parse_message,
)
from voice_agent.telephony.sip.uas import SipUas

__all__ = ["AllowList", "SipTcpServer", "SipUdpServer"]

log = logging.getLogger(__name__)
TCP_IDLE_S = 300.0
MAX_TCP_CONNECTIONS = 200


class AllowList:
    """Source addresses (IPs or CIDR networks) that may talk to us; empty = everyone."""

    def __init__(self, entries: list[str]) -> None:
        self.networks = [ipaddress.ip_network(e.strip(), strict=False)
                         for e in entries if e.strip()]

    def __call__(self, host: str) -> bool:
        if not self.networks:
            return True
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(ip in net for net in self.networks)


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: SipUdpServer) -> None:
        self.server = server

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:  # type: ignore[override]
        self.server.datagram(data, (addr[0], addr[1]))

    def error_received(self, exc: Exception) -> None:
        log.debug("SIP UDP socket error: %s", exc)


class SipUdpServer:
    def __init__(self, uas: SipUas, *, allowed: Callable[[str], bool]) -> None:
        self.uas = uas
        self.allowed = allowed
        self.transport: asyncio.DatagramTransport | None = None
        self.ignored = 0

    async def start(self, host: str, port: int) -> int:
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(
            lambda: _UdpProtocol(self), local_addr=(host, port))
        return self.transport.get_extra_info("sockname")[1]

    def datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        if not self.allowed(addr[0]) or len(data) > MAX_MESSAGE_BYTES + MAX_BODY_BYTES:
            self.ignored += 1
            return
        transport = self.transport

        def reply(out: bytes) -> None:
            if transport is not None and not transport.is_closing():
                transport.sendto(out, addr)

        self.uas.receive(data, addr, reply, reliable=False)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class SipTcpServer:
    def __init__(self, uas: SipUas, *, allowed: Callable[[str], bool]) -> None:
        self.uas = uas
        self.allowed = allowed
        self.server: asyncio.Server | None = None
        self._conns: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int) -> int:
        self.server = await asyncio.start_server(self._serve, host, port,
                                                 limit=MAX_MESSAGE_BYTES + 4)
        return self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        addr = (str(peer[0]), int(peer[1]))
        task = asyncio.current_task()
        if not self.allowed(addr[0]) or len(self._conns) >= MAX_TCP_CONNECTIONS or task is None:
            writer.close()
            return
        self._conns.add(task)

        def reply(out: bytes) -> None:
            if not writer.is_closing():
                writer.write(out)

        try:
            while True:
                async with asyncio.timeout(TCP_IDLE_S):
                    data = await _read_message(reader)
                if data is None:
                    break
                self.uas.receive(data, addr, reply, reliable=True)
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            pass
        except SipParseError as exc:
            log.info("closing SIP TCP connection from %s: %s", addr[0], exc)
        finally:
            self._conns.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for task in list(self._conns):
            task.cancel()
        if self._conns:
            await asyncio.gather(*self._conns, return_exceptions=True)
        if self.server is not None:
            await self.server.wait_closed()


async def _read_message(reader: asyncio.StreamReader) -> bytes | None:
    """One message off the stream: headers up to the blank line, then Content-Length bytes;
    None at a clean end of stream. CRLF keep-alives between messages are skipped."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError:
        raise SipParseError("headers too large") from None
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise SipParseError("truncated message") from None
        return None
    head = head.lstrip(b"\r\n")
    if not head.strip():
        return b""
    if len(head) > MAX_MESSAGE_BYTES:
        raise SipParseError("headers too large")
    message = parse_message(head, headers_only=True)  # gives the declared length
    length = message.headers.get("Content-Length")
    if length is None or not length.isdigit() or int(length) > MAX_BODY_BYTES:
        if isinstance(message, SipRequest):
            raise SipParseError("Content-Length missing or too large over TCP")
        raise SipParseError("bad Content-Length")
    body = await reader.readexactly(int(length))
    return head + body
