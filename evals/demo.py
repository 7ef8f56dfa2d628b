"""``voice-agent demo``: the whole product on one simulated call, on the embedded defaults."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from rich.console import Console

from evals.phone_call import print_report, run_scripted_call
from evals.simulator.server import agent_server
from voice_agent.config import REPO_ROOT, Settings
from voice_agent.store.db import make_engine, upgrade


def run_demo(*, script: Path, port: int, console: Console) -> int:
    data_dir = REPO_ROOT / "var" / "demo"
    shutil.rmtree(data_dir, ignore_errors=True)  # a fresh calendar every run
    data_dir.mkdir(parents=True)
    settings = Settings(data_dir=data_dir, database_url=None)
    with agent_server(data_dir, port, console=console) as base_url:
        engine = make_engine(settings.db_url)
        upgrade(engine)
        try:
            result = asyncio.run(run_scripted_call(
                script_path=script, server_url=base_url, settings=settings, engine=engine,
                recording=data_dir / "recordings" / "caller-side.wav", console=console,
            ))
        finally:
            engine.dispose()
    print_report(result, console)
    for path in sorted((data_dir / "recordings").glob("*.wav")):
        console.print(f"recording: {path}")
    if result.verdict.booking is None:
        console.print("[red]demo failed: no booking was written[/]")
        return 1
    return 0 if result.verdict.outcome_correct else 1
