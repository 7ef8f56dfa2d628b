"""Liveness, readiness (green once models and sidecars are up), both public for probes, and
Prometheus metrics (behind a token)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest

from voice_agent.api.auth import MetricsDep
from voice_agent.api.deps import RuntimeDep

router = APIRouter(tags=["health"])
ACTIVE_CALLS = Gauge("voice_agent_active_calls", "Calls in progress on this worker")


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    sidecars = {s.name: await s.healthy() for s in runtime.sidecars}
    full = runtime.admission.full  # at capacity: new calls should go to another worker
    ready = runtime.ready and all(sidecars.values()) and not full
    body = {"ready": ready, "models_loaded": runtime.whisper is not None, "sidecars": sidecars,
            "active_calls": runtime.active_calls, "at_capacity": full}
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics")
async def metrics(runtime: RuntimeDep, _: MetricsDep) -> Response:
    """Prometheus metrics; needs a ``metrics`` (or admin) token (``bearer_token`` in the
    scrape config)."""
    ACTIVE_CALLS.set(runtime.active_calls)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
