"""uvicorn, with a graceful drain on SIGTERM.

Kubernetes (and any supervisor) stops a worker with SIGTERM. Plain uvicorn then closes every
open WebSocket at once (1012): a caller mid-booking hears nothing more. Here the first
SIGTERM (or Ctrl-C) drains instead: ``/readyz`` goes not-ready and the webhook refuses new
calls, the calls in progress may finish for up to ``drain_deadline_s``, then each says
goodbye, keeps what the caller wanted as a callback and hangs up with its turns stored; only
then does uvicorn shut down. A second signal shuts down at once.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from types import FrameType

import uvicorn

from voice_agent.runtime.container import Runtime

__all__ = ["DrainingServer"]

log = logging.getLogger(__name__)


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, *, runtime_of: Callable[[], Runtime | None],
                 deadline_s: float) -> None:
        super().__init__(config)
        self._runtime_of = runtime_of
        self._deadline_s = deadline_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drain: asyncio.Task[None] | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        runtime = self._runtime_of()
        if (self._drain is not None or self.should_exit or self._loop is None
                or runtime is None or not runtime.active_calls):
            super().handle_exit(sig, frame)  # nothing to drain, or asked twice: stop now
            return
        self._captured_signals.append(sig)  # re-raised once uvicorn has shut down
        self._loop.call_soon_threadsafe(self._begin_drain, runtime)

    def _begin_drain(self, runtime: Runtime) -> None:
        self._drain = asyncio.ensure_future(self._drain_then_exit(runtime))

    async def _drain_then_exit(self, runtime: Runtime) -> None:
        try:
            ended = await runtime.drain(self._deadline_s)
            log.warning("drained: %d call(s) ended at the deadline", ended)
        finally:
            self.should_exit = True
