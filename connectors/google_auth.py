"""OAuth for the Google connectors: a service account's access token, refreshed before it
expires and once more when Google answers 401.

An access token lives an hour; a connector built from one pasted token stops working within
that hour. With a service-account key (the JSON file Google's console downloads) the token
is minted and re-minted by ``google-auth`` (a signed JWT exchanged at the key's
``token_uri``). ``google-auth`` is blocking (``requests``), so the exchange runs in a thread,
behind a lock so that concurrent requests share one refresh.

:class:`GoogleTokenAuth` is an ``httpx.Auth``: every request gets the current bearer token;
a token within ``REFRESH_MARGIN`` of its expiry is refreshed first; a 401 (revoked, rotated
key, clock skew) forces one refresh and one resend, never more. A failed exchange becomes a
:class:`ConnectorError` (retryable when the token endpoint could not be reached), with no
key material in the message.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from google.auth import exceptions as google_exceptions
from google.auth.transport.requests import Request
from google.oauth2 import service_account

from connectors.base import ConnectorError

__all__ = ["CALENDAR_SCOPE", "REFRESH_MARGIN", "GoogleTokenAuth", "ServiceAccountTokens",
           "StaticToken"]

CALENDAR_SCOPE = "https://www.googleapis.com/auth/calendar"
REFRESH_MARGIN = timedelta(minutes=5)


class StaticToken:
    """A token somebody else keeps fresh (a broker rewriting the secret): never refreshed."""

    can_refresh = False

    def __init__(self, token: str) -> None:
        self._token = token

    async def token(self, *, failed: str | None = None) -> str:
        return self._token


class ServiceAccountTokens:
    """Access tokens of one service account (optionally acting as ``subject``)."""

    can_refresh = True

    def __init__(self, key_json: str, *, scopes: tuple[str, ...] = (CALENDAR_SCOPE,),
                 subject: str | None = None, timeout_s: float = 10.0,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        try:
            info = json.loads(key_json)
            self._credentials = service_account.Credentials.from_service_account_info(
                info, scopes=list(scopes), subject=subject)
        except (ValueError, KeyError, TypeError):
            # never echo the key: only say which kind of problem it is
            raise ConnectorError("the Google service-account key is not a valid key file"
                                 ) from None
        self._timeout_s = timeout_s
        self.clock = clock  # tests move it forward
        self._token: str | None = None
        self._expiry: datetime | None = None
        self._lock = asyncio.Lock()
        self.refreshes = 0

    def _fresh(self) -> bool:
        return (self._token is not None and self._expiry is not None
                and self.clock() < self._expiry - REFRESH_MARGIN)

    async def token(self, *, failed: str | None = None) -> str:
        """The current token, refreshed first when it is near its expiry or when it is the
        one Google just refused (``failed``); a token another request refreshed meanwhile
        is used as it is."""
        async with self._lock:
            if self._fresh() and (failed is None or failed != self._token):
                assert self._token is not None
                return self._token
            await asyncio.to_thread(self._refresh)
            assert self._token is not None
            return self._token

    def _refresh(self) -> None:
        request = _TimedRequest(self._timeout_s)
        asked_at, wall = self.clock(), datetime.now(UTC)
        try:
            self._credentials.refresh(request)
        except google_exceptions.TransportError:
            raise ConnectorError("could not reach Google's token endpoint",
                                 retryable=True) from None
        except google_exceptions.RefreshError as exc:
            retryable = bool(getattr(exc, "retryable", False))
            raise ConnectorError("Google refused the service account's token request",
                                 retryable=retryable) from None
        finally:
            request.session.close()
        # google-auth stamps expiry (naive UTC) from the wall clock; keep the lifetime it
        # granted, measured on our clock
        expiry = self._credentials.expiry
        lifetime = (expiry.replace(tzinfo=UTC) - wall) if expiry is not None else (
            timedelta(minutes=30))
        self._token = self._credentials.token
        self._expiry = asked_at + lifetime
        self.refreshes += 1


class GoogleTokenAuth(httpx.Auth):
    """Bearer auth from a token source; on a 401, one refresh and one resend."""

    def __init__(self, tokens: StaticToken | ServiceAccountTokens) -> None:
        self.tokens = tokens

    async def async_auth_flow(self, request: httpx.Request
                              ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        used = await self.tokens.token()
        request.headers["Authorization"] = f"Bearer {used}"
        response = yield request
        if response.status_code == 401 and self.tokens.can_refresh:
            request.headers["Authorization"] = f"Bearer {await self.tokens.token(failed=used)}"
            yield request

    def sync_auth_flow(self, request: httpx.Request) -> Any:  # pragma: no cover
        raise RuntimeError("the Google connectors are async only")


class _TimedRequest(Request):
    """google-auth's requests transport with our timeout (its default is 120 s)."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__()
        self._timeout_s = timeout_s

    def __call__(self, url: str, method: str = "GET", body: Any = None, headers: Any = None,
                 timeout: Any = None, **kwargs: Any) -> Any:
        return super().__call__(url, method=method, body=body, headers=headers,
                                timeout=self._timeout_s, **kwargs)
