"""The middleware stack at the edge, outermost first: loopback-only in dev, per-IP rate
limits, body size and JSON shape limits. All are pure ASGI and run before routing, body
parsing and authentication."""

from __future__ import annotations

from fastapi import FastAPI

from voice_agent.api.body_limit import BodyLimitMiddleware
from voice_agent.api.dev_guard import LoopbackOnlyMiddleware
from voice_agent.api.rate_limit import RateLimiter, RateLimitMiddleware, Rule
from voice_agent.config import Settings
from voice_agent.telephony.twilio_webhook import MAX_WEBHOOK_BODY_BYTES

__all__ = ["API_PREFIXES", "WEBHOOK_PATH", "install_edge"]

WEBHOOK_PATH = "/telephony/twilio/voice"
API_PREFIXES = ("/admin", "/review", "/metrics", "/docs", "/redoc", "/openapi.json")


def install_edge(app: FastAPI, settings: Settings) -> None:
    # add_middleware wraps what is there: the last added runs first.
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=settings.max_body_bytes,
        per_prefix=[(WEBHOOK_PATH, MAX_WEBHOOK_BODY_BYTES)],
        max_json_depth=settings.max_json_depth, max_json_members=settings.max_json_members,
    )
    rules = []
    if settings.webhook_rate_per_s > 0:
        rules.append(Rule("webhook", (WEBHOOK_PATH,), settings.webhook_rate_per_s,
                          settings.webhook_rate_burst))
    if settings.api_rate_per_s > 0:
        rules.append(Rule("api", API_PREFIXES, settings.api_rate_per_s, settings.api_rate_burst))
    if rules:
        app.add_middleware(RateLimitMiddleware, limiter=RateLimiter(rules))
    if settings.env == "dev":
        app.add_middleware(LoopbackOnlyMiddleware)
