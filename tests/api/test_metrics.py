"""/metrics shows the families dashboards, alerts and the HPA read, after a real turn.

The turn goes through the real DialogProcessor (real manager, real SQLite store, fake LLM);
the reply's audio stamps are then stored as the output transport's BotStartedSpeakingFrame
would have them stored. /metrics is read the way tests/api/test_health.py reads it.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from pipecat.tests.utils import run_test
from prometheus_client.parser import text_string_to_metric_families

from connectors.builtin import BuiltinCalendar
from connectors.resilience import ResilientConnector
from tests.dialog.test_existing_bookings import rig
from tests.pipeline.test_dialog_processor_faults import _processor, _said
from voice_agent import metrics
from voice_agent.store.calls import CallStore
from voice_agent.store.models import BookingIntent
from voice_agent.store.review import create_review_item, create_token


def _samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def _value(samples, name: str, **labels: str) -> float:
    return sum(v for lab, v in samples.get(name, []) if all(lab.get(k) == x
                                                           for k, x in labels.items()))


def _scrape_headers(client) -> dict[str, str]:
    """The scrape token a Prometheus ServiceMonitor would send (``metrics`` role)."""
    token = create_token(client.runtime.engine, name=f"scrape-{time.monotonic_ns()}",
                         role="metrics")
    return {"Authorization": f"Bearer {token}"}


async def test_metrics_after_a_simulated_turn(tmp_path: Path, make_client) -> None:
    before = _value(_samples(_scrape(make_client)), "voice_agent_turn_stage_seconds_count",
                    stage="total")
    (tmp_path / "call").mkdir()
    async with rig(tmp_path / "call") as r:
        processor = _processor(r, CallStore(r.store))
        await run_test(processor, frames_to_send=[*_said("Hi, I'd like to book a haircut.")])
        assert processor._last_row is not None, "the turn was not finished"
        processor._clock.tts_first_audio = time.time()
        processor._clock.first_audio_sent = time.time() + 0.01
        await processor._store_audio_stamps()
    metrics.observe_call(outcome="booked", end_reason="caller_hung_up", status="completed")

    with make_client() as client:
        engine = client.runtime.engine
        intent = BookingIntent(idempotency_key="k1", business="demo-salon", payload={})
        create_review_item(engine, intent=intent, call_id=None, business="demo-salon",
                           reason="low STT confidence", confidence={})
        calendar = BuiltinCalendar(business=client.runtime.businesses["demo-salon"],
                                   engine=engine)
        connector = ResilientConnector(calendar, kind="builtin")
        client.runtime.connectors._live["demo-salon"] = (None, connector)
        client.portal.call(connector.health_check)  # one timed connector operation
        text = client.get("/metrics", headers=_scrape_headers(client)).text
    samples = _samples(text)

    families = set(re.findall(r"^# TYPE (\S+) ", text, re.M))
    missing = metrics.EXPORTED - families
    assert not missing, f"families missing from /metrics: {sorted(missing)}"

    assert _value(samples, "voice_agent_turn_stage_seconds_count", stage="total") == before + 1
    for stage in ("stt", "turn_wait", "dialog_llm", "tts", "send"):
        assert _value(samples, "voice_agent_turn_stage_seconds_count", stage=stage) >= 1, stage
    assert _value(samples, "voice_agent_stt_avg_logprob_count") >= 1
    assert _value(samples, "voice_agent_calls_total", outcome="booked",
                  end_reason="caller_hung_up", status="completed") >= 1
    assert _value(samples, "voice_agent_connector_seconds_count", kind="builtin",
                  op="health_check") >= 1
    assert _value(samples, "voice_agent_review_items", status="pending") == 1
    assert _value(samples, "voice_agent_review_items", status="rejected") == 0
    assert _value(samples, "voice_agent_connector_circuit_state", business="demo-salon",
                  kind="builtin", state="closed") == 1
    assert _value(samples, "voice_agent_connector_circuit_state", business="demo-salon",
                  kind="builtin", state="open") == 0


def _scrape(make_client) -> str:
    with make_client() as client:
        return client.get("/metrics", headers=_scrape_headers(client)).text
