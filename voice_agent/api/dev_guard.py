"""Development mode never faces the outside: only loopback peers are served.

``VOICE_AGENT_ENV=dev`` runs with a public Twilio token, so a forged call is trivial. The
settings already refuse a non-loopback bind in dev; this middleware also refuses a request
whose peer is not loopback, which covers a tunnel or reverse proxy on the same machine that
forwards outside traffic (uvicorn rewrites the peer from ``X-Forwarded-For`` when the proxy
is trusted, as a local one is by default). Pure ASGI: nothing is read before the refusal.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Receive, Scope, Send

from voice_agent.config import is_loopback

__all__ = ["LoopbackOnlyMiddleware"]

log = logging.getLogger(__name__)


class LoopbackOnlyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        if client is not None and is_loopback(str(client[0])):
            await self.app(scope, receive, send)
            return
        log.warning("development mode: refused a request from a non-loopback peer")
        if scope["type"] == "websocket":  # a close before accept is an HTTP 403 to the peer
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008,
                        "reason": "development mode serves loopback only"})
            return
        body = b"development mode serves loopback only\n"
        await send({"type": "http.response.start", "status": 403,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
