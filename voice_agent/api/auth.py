"""Bearer-token authentication for the operator API (review queue, admin routes, metrics).

``Authorization: Bearer va_...``: a missing, unknown or revoked token is 401 (with
``WWW-Authenticate: Bearer``), a valid token whose role is not allowed is 403. An admin may
do everything a reviewer may. Tokens are never logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from voice_agent.api.deps import RuntimeDep
from voice_agent.store.review import ROLES, ApiToken, verify_token

__all__ = ["AdminDep", "MetricsDep", "ReviewerDep", "require_role"]

log = logging.getLogger(__name__)
_bearer = HTTPBearer(auto_error=False, description="An API token: `voice-agent tokens create`")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _unauthorized(detail: str, *, invalid: bool) -> HTTPException:
    challenge = 'Bearer error="invalid_token"' if invalid else "Bearer"
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=detail,
                         headers={"WWW-Authenticate": challenge})


def require_role(*roles: str) -> Callable[..., Awaitable[ApiToken]]:
    """A dependency that returns the caller's :class:`ApiToken` if its role is allowed."""
    unknown = set(roles) - set(ROLES)
    if not roles or unknown:
        raise ValueError(f"require_role needs roles among {ROLES}, got {roles}")
    allowed = frozenset(roles) | {"admin"}

    async def dependency(runtime: RuntimeDep, credentials: BearerDep) -> ApiToken:
        if credentials is None:
            raise _unauthorized("missing bearer token", invalid=False)
        assert runtime.engine is not None
        token = await asyncio.to_thread(verify_token, runtime.engine, credentials.credentials)
        if token is None:
            log.warning("rejected an unknown or revoked API token")
            raise _unauthorized("invalid or revoked token", invalid=True)
        if token.role not in allowed:
            log.warning("token %r (role %s) denied: needs %s", token.name, token.role,
                        "/".join(sorted(allowed)))
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                detail=f"this needs the {' or '.join(sorted(allowed))} role")
        return token

    return dependency


ReviewerDep = Annotated[ApiToken, Depends(require_role("reviewer", "admin"))]
AdminDep = Annotated[ApiToken, Depends(require_role("admin"))]
MetricsDep = Annotated[ApiToken, Depends(require_role("metrics"))]  # Prometheus' scrape token
