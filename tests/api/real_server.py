"""A real uvicorn server on a free loopback port, for tests that need real HTTP/WebSocket."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import uvicorn

from voice_agent.runtime.sidecars import free_port


@contextlib.asynccontextmanager
async def real_server(app, **config: object) -> AsyncIterator[str]:
    """Serve ``app``; yields ``host:port`` once uvicorn is listening."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error",
                                           lifespan="on", **config))
    serving = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, not an event)
                await asyncio.sleep(0.02)
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving
