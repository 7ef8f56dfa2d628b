"""The bench's arithmetic: per-turn stages for ours and for stock pipecat, their percentiles,
the ours/stock ratio, and the shape of ``bench.json``. Pure functions, no I/O.

Stages (seconds, from the caller's end of speech to the first agent audio out):

* ``turn_decision``: the VAD's stop wait plus the turn detector's wait after the transcript;
* ``stt``: whisper's transcription of the turn's last speech segment;
* ``dialog``: reading + policy + LLM until the reply text is decided (connector time removed);
* ``connector``: the calendar / CRM calls made while deciding the reply;
* ``tts``: from the reply text to Piper's first audio;
* ``overhead``: ``total`` minus the stages above (queues, frame hops, resampling, sending);
* ``total``: end of speech to the first reply audio sent;
* ``caller_side``: what the simulated caller measured: first agent audio received minus the
  end of its own audio (one clock, the caller's, for both agents).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from evals.stats import percentiles

__all__ = [
    "REPORTED",
    "STAGES",
    "bench_document",
    "ours_turn_stages",
    "ratios",
    "stock_turn_stages",
    "summarize",
]

STAGES = ("turn_decision", "stt", "dialog", "connector", "tts")
REPORTED = (*STAGES, "overhead", "total", "caller_side")
PERCENTILES = ("p50", "p95", "p99")
MIN_RATIO_BASE_S = 0.010

# UserBotLatencyObserver contribution keys (pipecat 1.14) grouped into our stages; what is
# left of its total (output transport, the "pipeline" hops) is stock's overhead. Stock streams
# the LLM into the TTS, whose "sentence aggregation" is the wait for the LLM's first whole
# sentence: it belongs to the dialog stage (ours ends when the reply text is decided).
STOCK_KEYS: dict[str, tuple[str, ...]] = {
    "turn_decision": ("endpointing_wait", "turn_detection", "waiting_for_user"),
    "stt": ("transcription",),
    "dialog": ("first_request", "llm_inference", "turn_completion", "awaiting_speakable_text",
               "sentence_aggregation"),
    "connector": ("llm_tool_call", "function_handler"),
    "tts": ("speech_synthesis",),
}


def _with_overhead(stages: dict[str, float], total: float) -> dict[str, float]:
    return {**stages, "overhead": total - sum(stages.values()), "total": total}


def ours_turn_stages(turn: Mapping[str, Any], *, vad_stop_secs: float) -> dict[str, float] | None:
    """A stored turn row (its ``*_ts`` stamps, ``stt_segments``, ``policy_events``) split into
    stages; None when the turn lacks a stamp (no reply, a keypad turn without speech)."""
    keys = ("speech_end_ts", "stt_done_ts", "turn_end_ts", "llm_first_token_ts",
            "tts_first_audio_ts", "first_audio_sent_ts")
    ts = [turn.get(k) for k in keys]
    if any(t is None for t in ts):
        return None
    speech_end, stt_done, turn_end, decided, tts_audio, sent = (float(t) for t in ts)
    segments = [s for s in turn.get("stt_segments") or [] if isinstance(s, Mapping)]
    timed = [s["seconds"] for s in segments if isinstance(s.get("seconds"), int | float)]
    # The VAD waits longer while letters or digits are awaited; the turn records its own wait.
    own = segments[-1].get("vad_stop_s") if segments else None
    vad_stop_secs = float(own) if isinstance(own, int | float) else vad_stop_secs
    # The turn's last segment is the one on the critical path; without its time, what lies
    # between the VAD stop and the transcript reaching the dialog.
    stt = float(timed[-1]) if timed else max(0.0, stt_done - speech_end - vad_stop_secs)
    connector = sum(float(ev.get("seconds") or 0.0) for ev in turn.get("policy_events") or []
                    if isinstance(ev, Mapping) and ev.get("event") == "connector_call")
    stages = {
        "turn_decision": vad_stop_secs + max(0.0, turn_end - stt_done),
        "stt": stt,
        "dialog": max(0.0, decided - turn_end - connector),
        "connector": connector,
        "tts": max(0.0, tts_audio - decided),
    }
    return _with_overhead(stages, sent - speech_end)


def stock_turn_stages(breakdown: Mapping[str, Any]) -> dict[str, float] | None:
    """One ``LatencyBreakdown`` (as its ``model_dump()``) measured from the user's silence,
    grouped into the same stages; None for the greeting (measured from the client connecting)."""
    if breakdown.get("measured_from") != "user_silence":
        return None
    spent: dict[str, float] = {}
    for c in breakdown.get("contributions") or []:
        spent[c["key"]] = spent.get(c["key"], 0.0) + float(c["duration_secs"])
    stages = {stage: sum(spent.get(k, 0.0) for k in keys) for stage, keys in STOCK_KEYS.items()}
    return _with_overhead(stages, float(breakdown["total_secs"]))


def summarize(turns: Iterable[Mapping[str, float]], caller_side: Iterable[float]
              ) -> dict[str, dict[str, float | None]]:
    """p50/p95/p99 of every reported stage over the turns (plus the caller-side figures)."""
    rows, caller = list(turns), [float(v) for v in caller_side]
    out: dict[str, dict[str, float | None]] = {}
    for name in REPORTED:
        values = caller if name == "caller_side" else [
            float(t[name]) for t in rows if t.get(name) is not None]
        out[name] = {**percentiles(values), "n": len(values)}
    return out


def ratios(ours: Mapping[str, Mapping[str, Any]], stock: Mapping[str, Mapping[str, Any]]
           ) -> dict[str, dict[str, float | None]]:
    """ours / stock per stage and percentile; None where either is missing or stock's value is
    under 10 ms (a ratio of two frame hops says nothing)."""
    out: dict[str, dict[str, float | None]] = {}
    for name in REPORTED:
        row: dict[str, float | None] = {}
        for p in PERCENTILES:
            a, b = (ours.get(name) or {}).get(p), (stock.get(name) or {}).get(p)
            ok = a is not None and b is not None and b >= MIN_RATIO_BASE_S
            row[p] = round(a / b, 3) if ok else None
        out[name] = row
    return out


def bench_document(*, ours: dict[str, Any], stock: dict[str, Any] | None,
                   machine: dict[str, Any], models: dict[str, Any], scripts: list[str],
                   extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The content of ``bench.json``."""
    return {
        "ours": ours,
        "stock": stock or {},
        "ratio": ratios(ours, stock) if stock else {},
        "machine": machine,
        "models": models,
        "scripts": scripts,
        **(extra or {}),
    }
