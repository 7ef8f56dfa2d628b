"""The run summary: accuracy, tool calls, and latency percentiles overall and per stage."""

from __future__ import annotations

from evals.runner import summarize
from evals.text_runner import CallRun


def run(id: str, turns: list[dict], *, correct: bool = True) -> CallRun:
    return CallRun(id=id, category="book", outcome="booked", outcome_correct=correct,
                   booking_fields_correct=correct, wrong_actions=[], forbidden_events=[],
                   agent_turns=3,
                   tool_calls=2, tool_calls_rejected=1, review_items=0, problems=[],
                   turns=turns)


def test_stage_percentiles_over_all_turns_of_all_calls() -> None:
    def turn(stt: float, llm: float | None) -> dict:
        return {"latency": {"VAD+STT": stt, "dialog+LLM": llm, "total": stt + (llm or 0)}}

    runs = [run("a", [turn(0.5, 0.1), turn(0.7, None)]),
            run("b", [turn(0.6, 0.3)], correct=False)]
    summary = summarize(runs, [0.6, 0.7, 0.9])
    stages = summary["latency_by_stage_s"]
    assert stages["VAD+STT"] == {"p50": 0.6, "p95": 0.69, "p99": 0.698}
    assert stages["dialog+LLM"]["p50"] == 0.2  # the turn without a stamp is left out
    assert set(stages) == {"VAD+STT", "dialog+LLM", "total"}
    assert summary["latency_s"]["p50"] == 0.7
    assert summary["outcome_accuracy"] == 0.5 and summary["tool_call_rejection_rate"] == 0.5


def test_text_mode_has_no_stage_latency() -> None:
    summary = summarize([run("a", [{"caller": "hi", "agent": "hello"}])], [])
    assert summary["latency_by_stage_s"] is None
    assert summary["latency_s"] == {"p50": None, "p95": None, "p99": None}
