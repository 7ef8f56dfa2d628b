"""End-of-caller-speech → first-agent-audio latency over real simulated phone calls.

Starts the agent server on the embedded CPU defaults, places each given call script through
the Twilio-faithful simulated caller (audio mode: synthesised caller voice, 8 kHz μ-law), and
prints p50/p95/p99 per stage from the stored turn rows, plus the caller-side latency.

    .venv/bin/python benchmarks/phone_latency.py evals/calls/book evals/calls/demo
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from evals.phone_call import STAGES, run_scripted_call, stage_split
from evals.runner import discover
from evals.simulator.server import agent_server
from voice_agent.config import REPO_ROOT, Settings
from voice_agent.store.db import make_engine, upgrade


def pct(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        v = values[0] if values else float("nan")
        return v, v, v
    q = statistics.quantiles(values, n=100, method="inclusive")
    return q[49], q[94], q[98]


def main(paths: list[str]) -> int:
    console = Console()
    data_dir = REPO_ROOT / "var" / "bench"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    settings = Settings(data_dir=data_dir, database_url=None)
    scripts = discover([Path(p) for p in paths])
    per_stage: dict[str, list[float]] = {name: [] for name in STAGES}
    caller_side: list[float] = []
    outcomes = []
    with agent_server(data_dir, console=console) as url:
        engine = make_engine(settings.db_url)
        upgrade(engine)
        for path, _script in scripts:
            call = asyncio.run(run_scripted_call(
                script_path=path, server_url=url, settings=settings, engine=engine,
                recording=data_dir / "recordings" / f"caller-{path.stem}.wav",
                console=Console(quiet=True),
            ))
            outcomes.append({"id": call.script.id, "correct": call.verdict.outcome_correct,
                             "problems": call.verdict.problems})
            console.print(f"{call.script.id}: {'ok' if call.verdict.outcome_correct else 'FAIL'}"
                          f" {call.verdict.problems or ''}")
            for turn in call.turns:
                for name, value in zip(STAGES, stage_split(turn), strict=True):
                    if value is not None:
                        per_stage[name].append(value)
            caller_side += [t.latency_s for t in call.result.turns if t.latency_s is not None]
        engine.dispose()
    table = Table(title=f"latency over {len(per_stage['total'])} turns, {len(scripts)} calls (s)")
    for col in ("stage", "p50", "p95", "p99", "n"):
        table.add_column(col, justify="right")
    for name, values in [*per_stage.items(), ("caller-side", caller_side)]:
        p50, p95, p99 = pct(values)
        table.add_row(name, f"{p50:.2f}", f"{p95:.2f}", f"{p99:.2f}", str(len(values)))
    console.print(table)
    summary = {name: dict(zip(("p50", "p95", "p99"), pct(v), strict=True))
               for name, v in [*per_stage.items(), ("caller_side", caller_side)]}
    (data_dir / "latency.json").write_text(json.dumps(
        {"stages": summary, "calls": outcomes}, indent=2))
    correct = sum(o["correct"] for o in outcomes)
    console.print(f"outcomes correct: {correct}/{len(outcomes)}; "
                  f"written {data_dir / 'latency.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["evals/calls/demo"]))
