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
    results = await run_suite(SMOKE, out=tmp_path / "out", settings=settings, llm_url=None,
                              console=Console(quiet=True))
    summary = results["summary"]
    assert summary["scripts"] == 3
    assert summary["forbidden_events"] == 0
    assert summary["outcome_accuracy"] == 1.0, json.dumps(results["calls"], default=str)[:3000]
    assert summary["tool_calls"] > 0  # the LLM was really asked for tool calls
    assert (tmp_path / "out" / "results.json").exists()
    assert (tmp_path / "out" / "report.html").exists()
