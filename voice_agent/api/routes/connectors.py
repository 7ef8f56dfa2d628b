"""Admin API for connector configuration: which calendar / CRM each business books into.

Every route needs an admin token. Secrets go in, never come out (``{"api_key": "set"}``), are
Fernet-encrypted at rest and merged on update. A malformed configuration is a 422 whose
``detail[].loc`` names the field (``["body", "settings", "event_types"]``). ``POST .../test``
runs the connector's health check and one read-only availability query and reports what it
saw; it never books. Every change is audit-logged by the store functions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from connectors.registry import get_kind, kind_names
from connectors.schedule import Business
from voice_agent.api.auth import AdminDep
from voice_agent.api.deps import RuntimeDep
from voice_agent.booking.connector_cache import check_connector
from voice_agent.runtime.container import Runtime
from voice_agent.store import connector_configs as store
from voice_agent.store.secret_box import SecretsUnreadableError

log = logging.getLogger(__name__)


class _NoEchoRoute(APIRoute):
    """FastAPI's 422 echoes each invalid ``input``; a request body here may hold secrets
    (``{"secrets": "hunter2"}``), so these routes answer with ``loc``/``msg``/``type`` only."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                detail = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
                          for e in exc.errors()]
                raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                    detail=detail) from None

        return route_handler


router = APIRouter(prefix="/admin", tags=["admin"], route_class=_NoEchoRoute)

BusinessName = Annotated[str, Path(min_length=1, max_length=100)]
MAX_BODY_KEYS = 200


class ConnectorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(min_length=1, max_length=50, description=f"one of {kind_names()}")
    settings: dict[str, Any] = Field(default_factory=dict, max_length=MAX_BODY_KEYS)
    secrets: dict[str, Any] = Field(default_factory=dict, max_length=MAX_BODY_KEYS,
                                    description="write-only; encrypted at rest")


class ConnectorCreate(ConnectorIn):
    business: str = Field(min_length=1, max_length=100)


class ConnectorUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str | None = Field(None, min_length=1, max_length=50)
    settings: dict[str, Any] | None = Field(None, max_length=MAX_BODY_KEYS,
                                            description="replaces the stored settings")
    secrets: dict[str, Any] | None = Field(None, max_length=MAX_BODY_KEYS,
                                           description="merged; a key set to null is removed")


class ConnectorOut(BaseModel):
    business: str
    kind: str
    settings: dict[str, Any]
    secrets: dict[str, str]
    version: int
    created_at: datetime
    updated_at: datetime
    updated_by: str


class BusinessOut(BaseModel):
    name: str
    display_name: str
    timezone: str
    services: list[str]
    staff: list[str]
    connector: str  # the kind in use ("builtin" when none is configured)


def _engine(runtime: Runtime) -> Any:
    assert runtime.engine is not None
    return runtime.engine


def _business(runtime: Runtime, name: str) -> Business:
    business = runtime.businesses.get(name)
    if business is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no business {name!r}")
    return business


def _invalid(exc: store.ConnectorConfigError) -> HTTPException:
    detail = [{"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]}
              for e in exc.errors]
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=detail)


@router.get("/businesses")
async def list_businesses(runtime: RuntimeDep, _: AdminDep) -> list[BusinessOut]:
    configs = {c.business: c.kind for c in
               await asyncio.to_thread(store.list_configs, _engine(runtime))}
    return [BusinessOut(name=b.name, display_name=b.display_name, timezone=b.timezone,
                        services=[s.id for s in b.services], staff=list(b.staff),
                        connector=configs.get(b.name, "builtin"))
            for b in runtime.businesses.values()]


@router.get("/connector-kinds")
async def list_kinds(_: AdminDep) -> list[dict[str, Any]]:
    """Each kind with the JSON schema of its settings and of its secrets."""
    out = []
    for name in kind_names():
        kind = get_kind(name)
        out.append({"kind": name, "description": kind.description,
                    "settings_schema": kind.settings_model.model_json_schema(),
                    "secrets_schema": kind.secrets_model.model_json_schema()})
    return out


@router.get("/connectors")
async def list_connectors(runtime: RuntimeDep, _: AdminDep) -> list[ConnectorOut]:
    rows = await asyncio.to_thread(store.list_configs, _engine(runtime))
    return [ConnectorOut(**store.public_view(r)) for r in rows]


@router.post("/connectors", status_code=status.HTTP_201_CREATED)
async def create_connector(body: ConnectorCreate, runtime: RuntimeDep, token: AdminDep
                           ) -> ConnectorOut:
    _business(runtime, body.business)
    try:
        row = await asyncio.to_thread(
            store.create_config, _engine(runtime), runtime.connectors.box,
            business=body.business, kind=body.kind, settings=body.settings,
            secrets=body.secrets, actor=token.name,
        )
    except store.ConnectorConfigError as exc:
        raise _invalid(exc) from None
    except store.ConfigExistsError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    log.info("connector for %s created (%s) by %s", body.business, body.kind, token.name)
    return ConnectorOut(**store.public_view(row))


@router.get("/connectors/{business}")
async def get_connector(business: BusinessName, runtime: RuntimeDep, _: AdminDep
                        ) -> ConnectorOut:
    row = await asyncio.to_thread(store.get_config, _engine(runtime), business)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            detail=f"{business} has no connector configured (it uses builtin)")
    return ConnectorOut(**store.public_view(row))


@router.put("/connectors/{business}")
async def update_connector(business: BusinessName, body: ConnectorUpdate, runtime: RuntimeDep,
                           token: AdminDep) -> ConnectorOut:
    try:
        row = await asyncio.to_thread(
            store.update_config, _engine(runtime), runtime.connectors.box, business=business,
            actor=token.name, kind=body.kind, settings=body.settings, secrets=body.secrets,
        )
    except store.ConnectorConfigError as exc:
        raise _invalid(exc) from None
    except store.ConfigNotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None
    except SecretsUnreadableError as exc:  # can't merge into secrets we can't read
        raise HTTPException(status.HTTP_409_CONFLICT,
                            detail=f"{exc}; delete and re-create this connector") from None
    log.info("connector for %s updated to version %d by %s", business, row.version, token.name)
    return ConnectorOut(**store.public_view(row))


@router.delete("/connectors/{business}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_connector(business: BusinessName, runtime: RuntimeDep, token: AdminDep
                           ) -> Response:
    try:
        await asyncio.to_thread(store.delete_config, _engine(runtime), business=business,
                                actor=token.name)
    except store.ConfigNotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None
    log.info("connector for %s deleted by %s (back to builtin)", business, token.name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/connectors/{business}/test")
async def test_connector(business: BusinessName, runtime: RuntimeDep, token: AdminDep
                         ) -> dict[str, Any]:
    """Health check + a read-only availability query over the next 7 days."""
    biz = _business(runtime, business)
    report = await check_connector(runtime.connectors, biz)
    await asyncio.to_thread(
        _audit_test, runtime, token.name, business, report["ok"])
    return report


def _audit_test(runtime: Runtime, actor: str, business: str, ok: bool) -> None:
    from voice_agent.store.review import record_audit

    record_audit(_engine(runtime), actor=actor, action="connector.test",
                 target=f"business:{business}", detail={"ok": ok})
