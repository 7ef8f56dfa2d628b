"""The FastAPI application: telephony, health and metrics routers on one shared runtime."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from voice_agent.api.edge import install_edge
from voice_agent.api.routes import connectors, health, review, twilio
from voice_agent.config import Settings, get_settings
from voice_agent.runtime.container import Runtime

log = logging.getLogger(__name__)


def _report_startup(task: asyncio.Task[None]) -> None:
    """A worker that cannot load its models is useless: log why and shut the server down."""
    if not task.cancelled() and task.exception() is not None:
        log.error("runtime failed to start: %r; shutting down", task.exception())
        signal.raise_signal(signal.SIGTERM)


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> FastAPI:
    """The server. A ``runtime`` passed in is used as it is (tests); otherwise one is
    created and started in the background when the server starts."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if runtime is not None:
            app.state.runtime = runtime
            yield
            return
        app.state.runtime = Runtime(settings)
        started = app.state.runtime
        # Load models and start sidecars in the background: /healthz answers at once and
        # /readyz turns green only when everything is loaded.
        startup = asyncio.create_task(started.start(), name="runtime-start")
        startup.add_done_callback(_report_startup)
        try:
            yield
        finally:
            startup.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await startup
            await started.stop()

    docs = settings.api_docs
    app = FastAPI(title="voice-agent", version="0.1.0", lifespan=lifespan,
                  docs_url="/docs" if docs else None, redoc_url="/redoc" if docs else None,
                  openapi_url="/openapi.json" if docs else None)
    app.include_router(health.router)
    app.include_router(twilio.router)
    app.include_router(review.router)
    app.include_router(connectors.router)
    install_edge(app, settings)
    return app
