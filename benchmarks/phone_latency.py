"""Our agent's latency over real simulated phone calls, by stage (no stock comparison).

A thin wrapper over ``voice-agent bench latency --no-stock`` (evals/bench/) for the given
script files or folders; the full comparison with stock pipecat is ``voice-agent bench
latency`` (see README, "Benchmarks").

    .venv/bin/python benchmarks/phone_latency.py evals/calls/book evals/calls/demo
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from rich.console import Console

from evals.bench.latency import print_table, run_latency_bench
from evals.bench.report import write_html
from evals.runner import discover
from voice_agent.config import REPO_ROOT


def main(paths: list[str]) -> int:
    console = Console()
    out = REPO_ROOT / "var" / "bench"
    scripts = [p for p, _ in discover([Path(p) for p in paths])]
    run = asyncio.run(run_latency_bench(scripts=scripts, out=out, stock=False, console=console))
    print_table(run.document, console)
    console.print(f"written {write_html(run.document, out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["evals/calls/demo"]))
