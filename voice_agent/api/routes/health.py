"""Liveness, readiness (green once models and sidecars are up), both public for probes, and
Prometheus metrics (behind a token)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from voice_agent import metrics as m
from voice_agent.api.auth import MetricsDep
from voice_agent.api.deps import RuntimeDep
from voice_agent.runtime.container import Runtime
from voice_agent.store.review_stats import review_counts

router = APIRouter(tags=["health"])
ACTIVE_CALLS = m.ACTIVE_CALLS  # the telephony route counts calls in and out on it


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    sidecars = {s.name: await s.healthy() for s in runtime.sidecars}
    full = runtime.admission.full  # at capacity: new calls should go to another worker
    ready = runtime.ready and all(sidecars.values()) and not full and not runtime.draining
    body = {"ready": ready, "models_loaded": runtime.whisper is not None, "sidecars": sidecars,
            "active_calls": runtime.active_calls, "at_capacity": full,
            "draining": runtime.draining}
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics")
async def metrics(runtime: RuntimeDep, _: MetricsDep) -> Response:
    """Prometheus metrics; needs a ``metrics`` (or admin) token (``bearer_token`` in the
    scrape config)."""
    ACTIVE_CALLS.set(runtime.active_calls)
    await asyncio.to_thread(_refresh_stored_state, runtime)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def _refresh_stored_state(runtime: Runtime) -> None:
    """Gauges computed at scrape time: the review backlog (one GROUP BY) and the breaker
    state of each connector this worker holds."""
    if runtime.engine is not None:
        m.set_review_items(review_counts(runtime.engine))
    m.set_circuit_states(runtime.breaker_states())
