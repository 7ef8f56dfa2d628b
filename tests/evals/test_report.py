"""evals.report: the HTML report of a run."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from evals.report import render_report, turn_latencies, write_report


def _call(cid: str, ok: bool, turns: list[dict[str, Any]] | None = None, **kw: Any) -> dict:
    return {"id": cid, "category": kw.pop("category", "book"), "outcome": "booked",
            "outcome_correct": ok, "booking_fields_correct": ok, "forbidden_events": [],
            "agent_turns": 3, "tool_calls": 2, "tool_calls_rejected": 0, "review_items": 0,
            "problems": [] if ok else ["booked the wrong time"], "turns": turns or [],
            "seconds": 2.5, "error": None, **kw}


def _results(calls: list[dict], latency: bool = False) -> dict[str, Any]:
    return {"summary": {"scripts": len(calls), "outcome_accuracy": 0.5,
                        "booking_fields_accuracy": 0.5, "forbidden_events": 1, "tool_calls": 4,
                        "tool_calls_rejected": 0, "tool_call_rejection_rate": 0.0,
                        "review_items": 0, "mean_agent_turns": 3.0,
                        "latency_s": {"p50": 0.8 if latency else None,
                                      "p95": 1.2 if latency else None, "p99": None},
                        "errors": 0,
                        "by_category": {"book": {"scripts": 1, "outcome_accuracy": 1.0},
                                        "cancel": {"scripts": 1, "outcome_accuracy": 0.0}}},
            "calls": calls}


EVIL = "<script>alert('x')</script> & \"quotes\""


def _svgs(page: str) -> list[str]:
    return re.findall(r"<svg.*?</svg>", page, flags=re.S)


def test_failures_first_escaped_and_text_mode_plots(tmp_path: Path) -> None:
    turns = [{"caller": EVIL, "agent": "Sure <b>bold</b>", "tool_calls": [
        {"name": "check_availability", "status": "executed"}], "policy_events": [
        {"event": "tool_proposal", "accepted": True}]}]
    calls = [_call("aaa-pass", True, category="book"),
             _call("zzz-fail", False, turns, category="cancel",
                   forbidden_events=["double_booking"])]
    path = tmp_path / "out" / "report.html"
    write_report(_results(calls), path)
    page = path.read_text()
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;quotes&quot;" in page
    assert "Sure &lt;b&gt;bold&lt;/b&gt;" in page
    assert page.index("zzz-fail") < page.index("aaa-pass")  # failures first, in every section
    assert "double_booking" in page and "check_availability [executed]" in page
    svgs = _svgs(page)
    assert len(svgs) == 1 and "Outcome accuracy by category" in svgs[0]  # no latency: no plots
    for svg in svgs:
        ElementTree.fromstring(svg)  # well-formed inline SVG


def test_latency_plots_and_missing_keys() -> None:
    turns = [
        {"caller": "hi", "agent": "hello", "latency": {"VAD+STT": 0.3, "dialog+LLM": 0.6,
                                                       "TTS": 0.2, "total": 1.1}},
        {"caller": "3 pm", "agent": "ok", "latency": {"VAD+STT": 0.25, "TTS": None}},
        {"caller": "bye", "agent": "bye", "latency": None},
        {"caller": "x"},  # no agent, tool_calls, policy_events or latency keys
    ]
    calls = [_call("audio-1", False, turns), {"id": "bare"}]  # a call with almost nothing
    lats = turn_latencies(calls)
    assert [t["total"] for t in lats] == [1.1, 0.25]
    page = render_report(_results(calls, latency=True))
    svgs = _svgs(page)
    titles = " ".join(svgs)
    assert "Per-turn latency (total)" in titles and "Mean per-turn latency by stage" in titles
    assert "VAD+STT" in titles and "dialog+LLM" in titles
    for svg in svgs:
        ElementTree.fromstring(svg)
    assert "0.8 / 1.2 / –" in page


def test_empty_results() -> None:
    page = render_report({"summary": {}, "calls": []})
    assert "Calls (0 failing of 0)" in page and "No data to plot" in page
