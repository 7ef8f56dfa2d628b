"""JSON over HTTP for the REST connectors, with every provider failure translated at the
boundary into the :mod:`connectors.base` error hierarchy.

One :class:`JsonApi` per connector instance. It does no retrying of its own (that lives in
:mod:`connectors.resilience`, in one place); it bounds the response size, reads the rate-limit
headers a provider sends with a 429/503, and never puts request bodies, query strings or
headers (API keys, callers' names and numbers) into an error message or a log line.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from connectors.base import (
    ConnectorError,
    ConnectorStatusError,
    ConnectorTimeoutError,
    MalformedResponseError,
)

__all__ = [
    "MAX_RESPONSE_BYTES",
    "JsonApi",
    "JsonResponse",
    "RawResponse",
    "dig",
    "retry_after_seconds",
]

MAX_RESPONSE_BYTES = 2 * 1024 * 1024
_BODY_IN_ERROR = 300  # characters of an error body kept on the exception (never logged raw)


@dataclass(frozen=True, slots=True)
class RawResponse:
    status_code: int
    headers: httpx.Headers
    body: bytes


@dataclass(frozen=True, slots=True)
class JsonResponse:
    status_code: int
    headers: httpx.Headers
    data: Any  # parsed JSON, or None for an empty body


def retry_after_seconds(headers: httpx.Headers, *, now: float | None = None) -> float | None:
    """Seconds to wait before retrying, from ``Retry-After`` (seconds or an HTTP date) or the
    ``X-RateLimit-Reset`` family (epoch seconds, epoch milliseconds, or seconds to go)."""
    now = time.time() if now is None else now
    value = headers.get("retry-after")
    if value:
        value = value.strip()
        if value.replace(".", "", 1).isdigit():
            return max(0.0, float(value))
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - now)
        except (TypeError, ValueError):
            pass
    for name in ("x-ratelimit-reset", "ratelimit-reset", "x-rate-limit-reset"):
        raw = headers.get(name)
        if not raw:
            continue
        try:
            reset = float(raw.strip())
        except ValueError:
            continue
        if reset > 1e12:  # epoch milliseconds
            return max(0.0, reset / 1000 - now)
        if reset > 1e9:  # epoch seconds
            return max(0.0, reset - now)
        return max(0.0, reset)  # seconds to go
    return None


class JsonApi:
    """An ``httpx.AsyncClient`` bound to one provider's base URL and auth headers."""

    def __init__(
        self,
        *,
        provider: str,
        base_url: str,
        headers: dict[str, str] | None = None,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        auth: httpx.Auth | None = None,
    ) -> None:
        self.provider = provider
        self.max_response_bytes = max_response_bytes
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers=headers or {},
            timeout=httpx.Timeout(timeout_s),
            transport=transport,
            auth=auth,
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        content: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        ok_statuses: tuple[int, ...] = (),
    ) -> JsonResponse:
        """Send one request; 2xx (and ``ok_statuses``) come back parsed, anything else raises.

        ``ok_statuses`` lets a caller treat e.g. 409 (duplicate id) or 412 (precondition) as
        an answer rather than an error.
        """
        raw = await self.send(method, url, params=params, json_body=json_body, content=content,
                              headers=headers, ok_statuses=ok_statuses)
        what = f"{self.provider} {method} {httpx.URL(url).path}"
        return JsonResponse(raw.status_code, raw.headers, self._parse(raw.body, raw.headers,
                                                                      what))

    async def send(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        content: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        ok_statuses: tuple[int, ...] = (),
    ) -> RawResponse:
        """Like :meth:`request`, but the body comes back as bytes (XML, iCalendar)."""
        what = f"{self.provider} {method} {httpx.URL(url).path}"
        try:
            async with self._client.stream(
                method, url, params=params, json=json_body, content=content, headers=headers
            ) as response:
                body = await self._read_bounded(response, what)
        except httpx.TimeoutException:
            raise ConnectorTimeoutError(f"{what} timed out") from None
        except httpx.TransportError as exc:
            message = f"could not reach {self.provider} ({type(exc).__name__})"
            raise ConnectorError(message, retryable=True) from None
        status = response.status_code
        if not (200 <= status < 300 or status in ok_statuses):
            detail = body.decode("utf-8", "replace")[:_BODY_IN_ERROR]
            raise ConnectorStatusError(
                f"{what} answered HTTP {status}",
                status_code=status,
                body=detail,
                retry_after=retry_after_seconds(response.headers),
            )
        return RawResponse(status, response.headers, body)

    async def _read_bounded(self, response: httpx.Response, what: str) -> bytes:
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_response_bytes:
            raise MalformedResponseError(f"{what}: response of {declared} bytes is too large")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.max_response_bytes:
                raise MalformedResponseError(f"{what}: response larger than "
                                             f"{self.max_response_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    @staticmethod
    def _parse(body: bytes, headers: httpx.Headers, what: str) -> Any:
        if not body.strip():
            return None
        try:
            return json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            kind = headers.get("content-type", "unknown content type")
            raise MalformedResponseError(f"{what}: answer is not JSON ({kind})") from None


def dig(data: Any, *path: str | int, what: str) -> Any:
    """``data[path[0]][path[1]]...``, or :class:`MalformedResponseError` naming the missing key
    (a provider's answer missing what its documentation promises)."""
    node = data
    for key in path:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            shown = "/".join(str(k) for k in path)
            raise MalformedResponseError(f"{what}: answer has no {shown!r}") from None
    return node
