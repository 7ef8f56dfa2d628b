"""One-time tokens that bind a Media Stream to the webhook request Twilio signed.

The webhook (signature-checked) issues a random token (``secrets.token_urlsafe``) and puts it
in the ``<Stream url>`` path, so it can be checked on the WebSocket upgrade, before the socket
is accepted. The token is a key into a server-side :class:`StreamGrant` holding everything the
call is bound to: call SID, business, caller number, STIR/SHAKEN attestation, the pinned clock
``now`` (non-production replays) and the exact URL handed to Twilio, which Twilio signs on the
upgrade. A token is single-use and expires ``ttl_s`` seconds after it was issued; nothing in
it can be computed offline.

The grants live in memory, per process: the webhook and the stream of one call must reach the
same worker (one ``voice-agent serve`` process does; several workers behind a balancer need
sticky routing, or a shared store in place of :class:`StreamTokens`).
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

__all__ = ["MAX_TOKEN_CHARS", "StreamGrant", "StreamTokens"]

MAX_TOKEN_CHARS = 64  # token_urlsafe(32) is 43 characters


@dataclass(frozen=True, slots=True)
class StreamGrant:
    call_sid: str
    business: str
    caller: str
    attestation: str
    now: datetime | None  # the pinned clock of a replayed script; None = the real clock
    url: str  # the stream URL as handed to Twilio, token included (Twilio signs it)
    expires_at: float  # on the store's monotonic clock


class StreamTokens:
    """Issued, not yet redeemed stream tokens (bounded: the oldest go first when full)."""

    def __init__(self, *, ttl_s: float, max_pending: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if ttl_s <= 0 or max_pending < 1:
            raise ValueError("ttl_s must be positive and max_pending at least 1")
        self._ttl_s, self._max, self._clock = ttl_s, max_pending, clock
        self._grants: OrderedDict[str, StreamGrant] = OrderedDict()

    def __len__(self) -> int:
        return len(self._grants)

    def issue(self, *, call_sid: str, business: str, caller: str, attestation: str = "",
              now: datetime | None = None, url_for: Callable[[str], str]) -> StreamGrant:
        """A new grant; ``url_for(token)`` is the stream URL that carries the token."""
        self._prune()
        while len(self._grants) >= self._max:
            self._grants.popitem(last=False)
        token = secrets.token_urlsafe(32)
        grant = StreamGrant(call_sid=call_sid, business=business, caller=caller,
                            attestation=attestation, now=now, url=url_for(token),
                            expires_at=self._clock() + self._ttl_s)
        self._grants[token] = grant
        return grant

    def peek(self, token: str) -> StreamGrant | None:
        """The live grant for ``token`` without using it up (None: unknown or expired)."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            return None
        grant = self._grants.get(token)
        if grant is None:
            return None
        if grant.expires_at <= self._clock():
            del self._grants[token]
            return None
        return grant

    def redeem(self, token: str) -> StreamGrant | None:
        """Use the token up: its grant if it was live, else None. A second redeem is None."""
        grant = self.peek(token)
        if grant is not None:
            del self._grants[token]
        return grant

    def _prune(self) -> None:
        # Every grant lives ttl_s, so insertion order is expiry order: drop from the front.
        now = self._clock()
        while self._grants:
            token, grant = next(iter(self._grants.items()))
            if grant.expires_at > now:
                break
            del self._grants[token]
