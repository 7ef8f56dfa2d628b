"""Optional OpenTelemetry tracing: off by default; when on, a call's pipecat worker exports
its conversation span under the call's id (an in-memory exporter stands in for OTLP)."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pipecat.frames.frames import EndFrame, Frame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.workers.runner import WorkerRunner

from voice_agent.config import Settings
from voice_agent.pipeline.call import pipeline_worker
from voice_agent.runtime.tracing import start_tracing


class _Pass(FrameProcessor):
    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)


def test_tracing_is_off_by_default() -> None:
    assert Settings(_env_file=None).otel_endpoint is None
    assert start_tracing(Settings(_env_file=None)) is False


@pytest.fixture(scope="module")
def exporter() -> InMemorySpanExporter:
    spans = InMemorySpanExporter()
    settings = Settings(_env_file=None, otel_endpoint="http://collector.invalid:4318/v1/traces")
    assert start_tracing(settings, exporter=spans) is True
    return spans


async def test_a_traced_call_exports_its_conversation_under_the_call_id(exporter) -> None:
    worker = pipeline_worker(Pipeline([_Pass()]), call_id="call-42", tracing=True)

    async def hang_up() -> None:
        await asyncio.sleep(0.3)
        await worker.queue_frame(EndFrame())

    ending = asyncio.create_task(hang_up())
    await WorkerRunner(handle_sigint=False).run(worker)  # as pipeline/call.py runs a call
    await ending
    trace.get_tracer_provider().force_flush()
    conversations = [s for s in exporter.get_finished_spans() if s.name == "conversation"]
    assert [s.attributes["conversation.id"] for s in conversations] == ["call-42"]
