"""Request limits at the edge, before routing, parsing and authentication (pure ASGI).

* A declared ``Content-Length`` over the route's limit is answered 413 at once, unread.
* A body without one (chunked) is counted while it is read; the moment it passes the limit
  the request is answered 413, whatever the route was doing with it.
* A JSON body (``application/json``, ``*+json``) is read in full (it is bounded), its depth and
  member count checked (400 when over), then replayed to the route.

The limit is per path prefix (the longest matching prefix wins), with a default for the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voice_agent.api.json_shape import json_shape_error

__all__ = ["BodyLimitMiddleware"]

log = logging.getLogger(__name__)


class _TooLarge(Exception):
    pass


async def _answer(send: Send, status: int, text: str) -> None:
    body = (text + "\n").encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int, per_prefix: Sequence[tuple[str, int]] = (),
                 max_json_depth: int = 32, max_json_members: int = 2000) -> None:
        if max_bytes < 1 or any(limit < 1 for _, limit in per_prefix):
            raise ValueError("body limits must be positive")
        self.app = app
        self.max_bytes = max_bytes
        self.per_prefix = sorted(per_prefix, key=lambda p: len(p[0]), reverse=True)
        self.max_json_depth, self.max_json_members = max_json_depth, max_json_members

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.per_prefix:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                await _answer(send, 400, "bad Content-Length")
                return
            if int(declared) > limit:
                log.warning("refused a %s-byte body on %s (limit %d)", declared[:20],
                            scope["path"][:100], limit)
                await _answer(send, 413, f"request body over {limit} bytes")
                return
        if _is_json(headers.get("content-type", "")):
            await self._json(scope, receive, send, limit)
        else:
            await self._streamed(scope, receive, send, limit)

    async def _json(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _answer(send, 413, f"request body over {limit} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        problem = json_shape_error(body, max_depth=self.max_json_depth,
                                   max_members=self.max_json_members)
        if problem is not None:
            log.warning("refused a JSON body on %s: %s", scope["path"][:100], problem)
            await _answer(send, 400, problem)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _streamed(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        size, exceeded, started = 0, False, False

        async def counted() -> Message:
            nonlocal size, exceeded
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > limit:
                    exceeded = True
                    raise _TooLarge
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if exceeded:  # whatever the route makes of the error, the answer is ours: 413
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not exceeded:
                raise
        if exceeded:
            log.warning("refused a streamed body over %d bytes on %s", limit, scope["path"][:100])
            if not started:
                await _answer(send, 413, f"request body over {limit} bytes")
