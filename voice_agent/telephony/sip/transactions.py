"""SIP transaction-layer bookkeeping (RFC 3261 §17), socket-free.

* :class:`ServerTransactions` remembers the last response to each request (keyed by the top
  Via branch and method) for 32 s, so a retransmitted INVITE, BYE, CANCEL or OPTIONS gets the
  same answer again instead of being processed twice (what a lossy UDP trunk needs).
* :class:`Retransmitter` resends a message on the RFC timer (T1, doubling, capped at T2) until
  it is stopped or gives up after 64·T1; over TCP it only waits for the give-up.
* :class:`TokenBucket` bounds new requests per source address (INVITE floods).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from voice_agent.telephony.sip.message import SipRequest

__all__ = ["Retransmitter", "ServerTransactions", "TokenBucket", "transaction_key"]

Send = Callable[[bytes], None]
T1 = 0.5
T2 = 4.0


def transaction_key(request: SipRequest) -> tuple[str, str]:
    """ACK matches its INVITE's transaction (a non-2xx ACK reuses the INVITE's branch)."""
    method = "INVITE" if request.method == "ACK" else request.method
    branch = request.branch
    if not branch.startswith("z9hG4bK"):  # RFC 2543 peer: no unique branch
        branch = f"{request.call_id}|{request.from_tag}|{request.cseq[0]}|{request.top_via}"
    return branch, method


@dataclass
class _Entry:
    response: bytes | None
    at: float


class ServerTransactions:
    def __init__(self, *, linger_s: float = 32.0, max_entries: int = 4096,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._linger = linger_s
        self._max = max_entries
        self._clock = clock

    def __len__(self) -> int:
        return len(self._entries)

    def _prune(self) -> None:
        cutoff = self._clock() - self._linger
        while self._entries:
            key, entry = next(iter(self._entries.items()))
            if entry.at >= cutoff and len(self._entries) <= self._max:
                break
            del self._entries[key]

    def seen(self, key: tuple[str, str], reply: Send) -> bool:
        """A retransmission: resend the last response (if any yet) and say so."""
        self._prune()
        entry = self._entries.get(key)
        if entry is None:
            return False
        if entry.response is not None:
            reply(entry.response)
        return True

    def begin(self, key: tuple[str, str]) -> None:
        self._entries[key] = _Entry(None, self._clock())

    def respond(self, key: tuple[str, str], data: bytes) -> None:
        """Remember the latest response to the request (sending it is the caller's)."""
        entry = self._entries.get(key)
        if entry is not None:
            entry.response = data
            entry.at = self._clock()
            self._entries.move_to_end(key)

    @property
    def full(self) -> bool:
        self._prune()
        return len(self._entries) >= self._max


class Retransmitter:
    """Send ``data`` now (unless it was ``sent``) and again on the timer until :meth:`stop`;
    ``on_timeout`` after 64·T1 without a stop. Counts what it resent in ``resent``."""

    def __init__(self, send: Send, data: bytes, *, reliable: bool,
                 on_timeout: Callable[[], None] | None = None, t1: float = T1,
                 t2: float = T2, cap: float | None = None, sent: bool = False) -> None:
        self._send, self._data, self._reliable = send, data, reliable
        self._on_timeout = on_timeout
        self._t1, self._cap = t1, cap if cap is not None else t2
        self._loop = asyncio.get_running_loop()
        self._deadline = self._loop.time() + 64 * t1
        self._handle: asyncio.TimerHandle | None = None
        self.resent = 0
        self.stopped = False
        if not sent:  # ``sent``: the first copy already went out
            send(data)
        self._schedule(t1)

    def _schedule(self, interval: float) -> None:
        now = self._loop.time()
        if self._reliable:
            self._handle = self._loop.call_at(self._deadline, self._fire, interval)
        else:
            self._handle = self._loop.call_at(min(now + interval, self._deadline), self._fire,
                                              interval)

    def _fire(self, interval: float) -> None:
        if self.stopped:
            return
        if self._loop.time() >= self._deadline - 1e-6:
            self.stopped = True
            if self._on_timeout is not None:
                self._on_timeout()
            return
        self._send(self._data)
        self.resent += 1
        self._schedule(min(interval * 2, self._cap))

    def stop(self) -> None:
        self.stopped = True
        if self._handle is not None:
            self._handle.cancel()


class TokenBucket:
    """Per-key token buckets (``rate`` per second, ``burst``), at most ``max_keys`` tracked."""

    def __init__(self, *, rate: float, burst: float, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._max = max_keys
        self._clock = clock

    def allow(self, key: str) -> bool:
        if self.rate <= 0:
            return True
        now = self._clock()
        tokens, at = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        allowed = tokens >= 1
        self._buckets[key] = (tokens - 1 if allowed else tokens, now)
        while len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        return allowed
