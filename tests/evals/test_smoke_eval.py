"""The CI smoke subset: a few scripts replayed in text mode on the embedded CPU LLM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from evals.runner import run_suite
from voice_agent.config import REPO_ROOT, Settings

pytestmark = pytest.mark.slow
SMOKE = [
    REPO_ROOT / "evals/calls/demo/salon-book-basic.yaml",
    REPO_ROOT / "evals/calls/book/dental-book-checkup-next-tuesday.yaml",
    REPO_ROOT / "evals/calls/cancel/dental-cancel-checkup-tomorrow.yaml",
]


async def test_smoke_subset_in_text_mode(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, models_dir=REPO_ROOT / ".models")
    # The LLM's typed reading on every turn: the real model answers under the JSON schema
    # grammar, and the merge rules keep its misreadings from acting.
    results = await run_suite(SMOKE, out=tmp_path / "out", settings=settings, llm_url=None,
                              console=Console(quiet=True), reading="always")
    summary = results["summary"]
    assert summary["scripts"] == 3
    assert summary["wrong_actions"] == 0 and summary["forbidden_events"] == 0
    assert summary["outcome_accuracy"] == 1.0, json.dumps(results["calls"], default=str)[:3000]
    readings = [e for c in results["calls"] for turn in c["turns"]
                for e in turn["policy_events"] if e["event"] == "llm_reading"]
    assert summary["llm_reading_s"]["readings"] == len(readings) > 5
    assert any(e["ok"] for e in readings)  # at least one reading parsed under the schema
    assert (tmp_path / "out" / "results.json").exists()
    assert (tmp_path / "out" / "report.html").exists()
