"""Per-client-IP rate limits (token buckets, in memory, per process), pure ASGI.

Each :class:`Rule` covers some path prefixes with its own rate and burst; a request beyond it
is answered 429 with ``Retry-After`` before anything else runs. The client address is the ASGI
peer: uvicorn rewrites it from ``X-Forwarded-For`` only for trusted proxies
(``--forwarded-allow-ips``), so a caller cannot pick a fresh address per request. At most
``max_clients`` buckets are kept per rule (least recently seen dropped first).
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["RateLimitMiddleware", "RateLimiter", "Rule", "TokenBucket"]

log = logging.getLogger(__name__)


class TokenBucket:
    """``burst`` tokens, refilled at ``rate`` per second; a request takes one."""

    __slots__ = ("burst", "rate", "tokens", "updated")

    def __init__(self, *, rate: float, burst: int, now: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.updated = float(burst), now

    def take(self, now: float) -> float:
        """0.0 if a token was taken, else the seconds until one is available."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


@dataclass(frozen=True)
class Rule:
    name: str
    prefixes: tuple[str, ...]
    rate: float  # requests per second, sustained
    burst: int

    def covers(self, path: str) -> bool:
        return any(path == p or path.startswith(p.rstrip("/") + "/") for p in self.prefixes)


class RateLimiter:
    def __init__(self, rules: Sequence[Rule], *, max_clients: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if any(r.rate <= 0 or r.burst < 1 for r in rules):
            raise ValueError("a rate limit needs a positive rate and a burst of at least 1")
        self.rules, self.max_clients, self.clock = tuple(rules), max_clients, clock
        self._buckets: dict[str, OrderedDict[str, TokenBucket]] = {r.name: OrderedDict()
                                                                    for r in rules}

    def check(self, path: str, client: str) -> float:
        """0.0 when the request may go ahead, else the seconds to wait."""
        rule = next((r for r in self.rules if r.covers(path)), None)
        if rule is None:
            return 0.0
        buckets, now = self._buckets[rule.name], self.clock()
        bucket = buckets.get(client)
        if bucket is None:
            if len(buckets) >= self.max_clients:
                buckets.popitem(last=False)
            bucket = buckets[client] = TokenBucket(rate=rule.rate, burst=rule.burst, now=now)
        else:
            buckets.move_to_end(client)
        wait = bucket.take(now)
        if wait:
            log.warning("rate limit %s: %s must wait %.1f s", rule.name, client, wait)
        return wait


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, *, limiter: RateLimiter) -> None:
        self.app, self.limiter = app, limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        wait = self.limiter.check(scope["path"], str(client[0]) if client else "")
        if not wait:
            await self.app(scope, receive, send)
            return
        body = b"too many requests\n"
        await send({"type": "http.response.start", "status": 429,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(body)).encode()),
                                (b"retry-after", str(max(1, math.ceil(wait))).encode())]})
        await send({"type": "http.response.body", "body": body})
