"""The worker's Prometheus metrics, in one place: what dashboards, alerts and the HPA read.

Other modules call the small functions here at the point where a thing is final (a turn's
reply reached the caller, a call ended, a model loaded); gauges that describe stored state
(the review backlog, connector circuits) are set at scrape time by the ``/metrics`` route.
This module imports nothing of the agent, so any layer may call it.

Names (``infra/`` and ``tests/infra/`` check against ``EXPORTED``):

- ``voice_agent_active_calls``: calls in progress on this worker (the HPA's metric);
- ``voice_agent_calls_total{outcome,end_reason,status}``: ended calls;
- ``voice_agent_calls_refused_total``: calls refused at the door (the admission limit);
- ``voice_agent_turn_stage_seconds{stage}``: per-turn latency by pipeline stage
  (``TurnClock`` stamps: stt, turn_wait, dialog_llm, tts, send, total);
- ``voice_agent_stt_avg_logprob``: whisper's mean log-probability of each caller turn;
- ``voice_agent_review_items{status}``: review queue items by status (backlog = pending);
- ``voice_agent_connector_circuit_state{business,kind,state}``: 1 for each live connector's
  current breaker state (closed, open, half_open);
- ``voice_agent_model_load_seconds{model}``: how long each model took to load at startup;
- ``voice_agent_connector_calls_total`` / ``voice_agent_connector_seconds``: connector
  operations by outcome and their time (defined in ``connectors/resilience.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "ACTIVE_CALLS",
    "CALLS",
    "CALLS_REFUSED",
    "CIRCUIT_STATE",
    "EXPORTED",
    "MODEL_LOAD_SECONDS",
    "REVIEW_ITEMS",
    "STAGES",
    "STT_AVG_LOGPROB",
    "TURN_STAGE_SECONDS",
    "observe_call",
    "observe_model_load",
    "observe_turn",
    "set_circuit_states",
    "set_review_items",
]

ACTIVE_CALLS = Gauge("voice_agent_active_calls", "Calls in progress on this worker")
CALLS_REFUSED = Counter(
    "voice_agent_calls_refused_total", "Calls refused at the door because the worker was full")
CALLS = Counter(
    "voice_agent_calls",
    "Ended calls by the dialog's outcome (booked, rescheduled, cancelled, no_booking, "
    "transferred, pending_review), why they ended and the pipeline's status",
    ["outcome", "end_reason", "status"],
)
TURN_STAGE_SECONDS = Histogram(
    "voice_agent_turn_stage_seconds",
    "Per-turn latency by stage, from the turn's TurnClock stamps (total: end of caller "
    "speech to the first reply audio sent)",
    ["stage"],
    buckets=(0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0),
)
STT_AVG_LOGPROB = Histogram(
    "voice_agent_stt_avg_logprob",
    "Whisper's average log-probability of each caller turn (closer to 0 = surer)",
    buckets=(-2.0, -1.5, -1.2, -1.0, -0.8, -0.6, -0.5, -0.4, -0.3, -0.2, -0.1, 0.0),
)
REVIEW_ITEMS = Gauge(
    "voice_agent_review_items", "Human review queue items by status (set at scrape time)",
    ["status"],
)
CIRCUIT_STATE = Gauge(
    "voice_agent_connector_circuit_state",
    "1 for the current circuit-breaker state of each live connector on this worker",
    ["business", "kind", "state"],
)
MODEL_LOAD_SECONDS = Gauge(
    "voice_agent_model_load_seconds", "Seconds each model took to load at startup", ["model"],
)

# Stage name -> (from stamp, to stamp), the TurnClock's names (pipeline/turn_clock.py).
STAGES: dict[str, tuple[str, str]] = {
    "stt": ("speech_end_ts", "stt_done_ts"),
    "turn_wait": ("stt_done_ts", "turn_end_ts"),
    "dialog_llm": ("turn_end_ts", "llm_first_token_ts"),
    "tts": ("llm_first_token_ts", "tts_first_audio_ts"),
    "send": ("tts_first_audio_ts", "first_audio_sent_ts"),
    "total": ("speech_end_ts", "first_audio_sent_ts"),
}
_CIRCUIT_STATES = ("closed", "open", "half_open")

# Every family this process exports, as PromQL sees it (counters gain ``_total``,
# histograms ``_bucket``/``_sum``/``_count``); the connector families are registered by
# connectors/resilience.py, which the agent always imports.
EXPORTED: frozenset[str] = frozenset({
    "voice_agent_active_calls",
    "voice_agent_calls_total",
    "voice_agent_calls_refused_total",
    "voice_agent_turn_stage_seconds",
    "voice_agent_stt_avg_logprob",
    "voice_agent_review_items",
    "voice_agent_connector_circuit_state",
    "voice_agent_model_load_seconds",
    "voice_agent_connector_calls_total",
    "voice_agent_connector_seconds",
})


def observe_turn(turn: Any) -> None:
    """A turn whose reply reached the caller: its stage latencies and STT confidence.
    ``turn`` is anything with the turn row's ``*_ts`` stamps and ``stt_avg_logprob``."""
    for stage, (start, end) in STAGES.items():
        a, b = getattr(turn, start, None), getattr(turn, end, None)
        if a is not None and b is not None and b >= a:
            TURN_STAGE_SECONDS.labels(stage).observe(b - a)
    logprob = getattr(turn, "stt_avg_logprob", None)
    if logprob is not None:
        STT_AVG_LOGPROB.observe(logprob)


def observe_call(*, outcome: str | None, end_reason: str | None, status: str) -> None:
    CALLS.labels(outcome or "none", end_reason or "none", status).inc()


def observe_model_load(model: str, seconds: float) -> None:
    MODEL_LOAD_SECONDS.labels(model).set(seconds)


def set_review_items(counts: Mapping[str, int]) -> None:
    """The queue's counts by status; statuses with no items read 0 (a backlog that empties
    must show 0, not vanish)."""
    for status in {"pending", "approved", "rejected", *counts}:
        REVIEW_ITEMS.labels(status).set(counts.get(status, 0))


def set_circuit_states(breakers: Iterable[tuple[str, str, str]]) -> None:
    """``(business, kind, state)`` for each live connector: a fresh picture each scrape."""
    CIRCUIT_STATE.clear()
    for business, kind, state in breakers:
        for candidate in _CIRCUIT_STATES:
            CIRCUIT_STATE.labels(business, kind, candidate).set(1 if candidate == state else 0)
