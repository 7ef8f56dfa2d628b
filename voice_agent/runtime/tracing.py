"""Optional OpenTelemetry tracing: pipecat's own spans (a conversation per call, a turn per
exchange, its services' spans) exported over OTLP/HTTP. Off unless ``otel_endpoint`` is set;
the SDK and exporter are an extra (``voice-agent[tracing]``), so a default install carries
neither. The tracer provider is process-wide: set once, at startup."""

from __future__ import annotations

import logging
from typing import Any

from voice_agent.config import Settings

__all__ = ["TracingUnavailableError", "start_tracing"]

log = logging.getLogger(__name__)


class TracingUnavailableError(RuntimeError):
    """``otel_endpoint`` is set but the OpenTelemetry SDK or exporter is not installed."""


def start_tracing(settings: Settings, *, exporter: Any = None) -> bool:
    """Install the exporter for ``settings.otel_endpoint`` (or the one given, in tests);
    False when tracing is off."""
    if exporter is None and not settings.otel_endpoint:
        return False
    try:
        from pipecat.utils.tracing.setup import setup_tracing

        if exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter(endpoint=settings.otel_endpoint)
    except ImportError as exc:
        raise TracingUnavailableError(
            "VOICE_AGENT_OTEL_ENDPOINT is set but OpenTelemetry is not installed: "
            "pip install 'voice-agent[tracing]'") from exc
    started = setup_tracing(service_name=settings.otel_service_name, exporter=exporter)
    log.info("OpenTelemetry tracing %s", "on" if started else "could not start")
    return started
