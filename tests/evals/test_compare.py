"""evals.compare and `voice-agent eval compare`."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from evals.compare import compare, load_results
from voice_agent.cli import app


def call(cid: str, ok: bool = True, events: list[str] | None = None, **kw: Any) -> dict[str, Any]:
    return {"id": cid, "category": "book", "outcome": "booked" if ok else "no_booking",
            "outcome_correct": ok, "booking_fields_correct": ok if ok else None,
            "forbidden_events": events or [], "agent_turns": 5, "tool_calls": 3,
            "tool_calls_rejected": 0, "review_items": 0, "problems": [] if ok else ["no booking"],
            "turns": [], "seconds": 1.0, "error": None, **kw}


def results(calls: list[dict[str, Any]], p95: float | None = None) -> dict[str, Any]:
    n = len(calls)
    return {"summary": {"scripts": n,
                        "outcome_accuracy": round(sum(c["outcome_correct"] for c in calls) / n, 4),
                        "booking_fields_accuracy": None, "forbidden_events": sum(
                            len(c["forbidden_events"]) for c in calls),
                        "latency_s": {"p50": p95, "p95": p95, "p99": p95}},
            "calls": calls}


BASE = results([call(f"c{i}") for i in range(50)], p95=1.0)


def test_identical_runs_do_not_regress() -> None:
    cmp = compare(BASE, copy.deepcopy(BASE))
    assert not cmp.regressed
    assert cmp.changes == {}
    assert cmp.lines()[-1] == "no regression"


def test_small_drop_within_max_drop_passes_and_is_reported() -> None:
    new = results([call("c0", ok=False)] + [call(f"c{i}") for i in range(1, 50)], p95=1.0)
    cmp = compare(BASE, new, max_drop=0.02)  # 100% -> 98%
    assert not cmp.regressed
    assert cmp.changes["c0"][0].startswith("REGRESSED: outcome booked -> no_booking")
    assert compare(BASE, new, max_drop=0.01).regressed


def test_fixed_call_is_reported() -> None:
    old = results([call("a", ok=False), call("b")])
    cmp = compare(old, results([call("a"), call("b")]))
    assert cmp.changes["a"][0].startswith("FIXED")
    assert not cmp.regressed


def test_new_forbidden_event_regresses_even_without_accuracy_drop() -> None:
    new = copy.deepcopy(BASE)
    new["calls"][3]["forbidden_events"] = ["double_booking"]
    cmp = compare(BASE, new)
    assert cmp.regressed
    assert "c3: forbidden event: double_booking" in cmp.regressions[0]
    # the same event in both runs is not new
    assert not compare(new, copy.deepcopy(new)).regressed


def test_a_new_wrong_action_regresses_even_without_accuracy_drop() -> None:
    new = copy.deepcopy(BASE)
    new["calls"][3]["wrong_actions"] = ["booked haircut at 2026-12-01T15:00:00-05:00 (start)"]
    cmp = compare(BASE, new)
    assert cmp.regressed
    assert "c3: wrong action: booked haircut" in cmp.regressions[0]
    assert cmp.summary[1].startswith("wrong actions:")
    assert not compare(new, copy.deepcopy(new)).regressed


def test_added_call_with_forbidden_event_regresses() -> None:
    new = results([*copy.deepcopy(BASE["calls"]), call("z", events=["unconfirmed_booking"])],
                  p95=1.0)
    cmp = compare(BASE, new)
    assert cmp.regressed
    assert cmp.changes["z"][0].startswith("added (passes)")


def test_latency_ratio_and_missing_latency() -> None:
    slow = copy.deepcopy(BASE)
    slow["summary"]["latency_s"]["p95"] = 1.3
    assert compare(BASE, slow).regressed
    assert not compare(BASE, slow, max_latency_ratio=1.5).regressed
    none = copy.deepcopy(BASE)
    none["summary"]["latency_s"] = {"p50": None, "p95": None, "p99": None}
    assert not compare(BASE, none).regressed
    assert not compare(none, slow).regressed


def test_removed_call_and_field_changes() -> None:
    old = results([call("a"), call("b")])
    new = results([call("a", agent_turns=9, error="llm unavailable")])
    cmp = compare(old, new)
    assert cmp.changes["b"] == ["removed"]
    assert "agent_turns 5 -> 9" in cmp.changes["a"]
    assert any(c.startswith("error none -> llm unavailable") for c in cmp.changes["a"])


def test_load_results_accepts_dir_or_file(tmp_path: Path) -> None:
    (tmp_path / "results.json").write_text(json.dumps(BASE))
    assert load_results(tmp_path) == BASE
    assert load_results(tmp_path / "results.json") == BASE


def _write(dir_: Path, data: dict[str, Any]) -> Path:
    dir_.mkdir()
    (dir_ / "results.json").write_text(json.dumps(data))
    return dir_


def test_cli_exit_codes(tmp_path: Path) -> None:
    old = _write(tmp_path / "old", BASE)
    same = _write(tmp_path / "same", BASE)
    worse = copy.deepcopy(BASE)
    for c in worse["calls"][:5]:
        c["outcome_correct"] = False
    worse["summary"]["outcome_accuracy"] = 0.9
    bad = _write(tmp_path / "bad", worse)
    runner = CliRunner()
    ok = runner.invoke(app, ["eval", "compare", str(old), str(same)])
    assert ok.exit_code == 0, ok.output
    assert "no regression" in ok.output
    res = runner.invoke(app, ["eval", "compare", str(old), str(bad)])
    assert res.exit_code == 1
    assert "REGRESSION: outcome accuracy dropped" in res.output
    assert "c0: REGRESSED" in res.output
    loose = runner.invoke(app, ["eval", "compare", str(old), str(bad), "--max-drop", "0.2"])
    assert loose.exit_code == 0
    missing = runner.invoke(app, ["eval", "compare", str(old), str(tmp_path / "nope")])
    assert missing.exit_code == 2
