"""``voice-agent bench load``: C simultaneous simulated calls against one agent server.

For each concurrency C, ``--calls`` scripted audio calls are placed through the real Twilio
path, at most C at a time (``asyncio.gather`` over a semaphore); each is judged as the eval
judges it (:func:`evals.outcome.judge`, through ``run_scripted_call``). A call the server
refuses at its admission limit (``VOICE_AGENT_MAX_CONCURRENT_CALLS``: the webhook answers a
spoken "lines are busy" TwiML without a ``<Stream>``) is counted as refused, not as failed.
The capacity of the box is the largest C whose p95 (end of caller speech → first agent audio,
from the stored turns) is within the limit with no call refused or failed.

Calls at the same time share one calendar (the server's database), emptied before each level:
two scripts that want the same slot can collide, as two real callers would.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from evals.bench.latency import machine_info, models_info
from evals.bench.profiles import profile_env
from evals.bench.stats import ours_turn_stages
from evals.stats import percentiles

__all__ = ["capacity", "classify_failure", "level_summary", "run_load_bench"]

P95_LIMIT_S = 2.5


def classify_failure(exc: BaseException) -> str:
    """``refused`` when the webhook answered TwiML without a Stream (the admission limit's
    spoken refusal), else ``failed``."""
    from evals.simulator.caller import SimCallerError

    if isinstance(exc, SimCallerError) and "no <Connect><Stream>" in str(exc):
        return "refused"
    return "failed"


def level_summary(concurrency: int, outcomes: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One concurrency level from its calls' outcome dicts (status, correct, totals, caller)."""
    done = [o for o in outcomes if o["status"] == "completed"]
    return {
        "concurrency": concurrency,
        "calls": len(outcomes),
        "completed": len(done),
        "refused": sum(o["status"] == "refused" for o in outcomes),
        "failed": sum(o["status"] == "failed" for o in outcomes),
        "booking_correct": sum(bool(o.get("correct")) for o in done),
        "total": percentiles([v for o in done for v in o.get("totals") or []]),
        "caller_side": percentiles([v for o in done for v in o.get("caller_side") or []]),
        "errors": sorted({o["error"] for o in outcomes if o.get("error")})[:5],
    }


def capacity(levels: Sequence[dict[str, Any]], limit_s: float = P95_LIMIT_S) -> int | None:
    """The largest C with p95 ≤ limit and every call taken and completed (None if none)."""
    ok = [lv["concurrency"] for lv in levels
          if lv["total"]["p95"] is not None and lv["total"]["p95"] <= limit_s
          and lv["refused"] == 0 and lv["failed"] == 0]
    return max(ok) if ok else None


async def _one_call(path: Path, *, url: str, settings: Any, engine: Any, tag: str,
                    sem: asyncio.Semaphore) -> dict[str, Any]:
    from evals.phone_call import run_scripted_call

    async with sem:
        try:
            call = await run_scripted_call(
                script_path=path, server_url=url, settings=settings, engine=engine,
                recording=settings.data_dir / "recordings" / f"caller-{tag}-{path.stem}.wav",
                console=Console(quiet=True))
        except Exception as exc:  # one call's failure is a data point, not the bench's end
            return {"id": path.stem, "status": classify_failure(exc),
                    "error": f"{type(exc).__name__}: {str(exc)[:160]}"}
    stages = [s for t in call.turns
              if (s := ours_turn_stages(t.model_dump(), vad_stop_secs=settings.vad_stop_secs))]
    return {"id": call.script.id, "status": "completed",
            "correct": call.verdict.outcome_correct, "outcome": call.outcome_text,
            "problems": call.verdict.problems[:3], "totals": [s["total"] for s in stages],
            "caller_side": [t.latency_s for t in call.result.turns if t.latency_s is not None]}


async def run_load_bench(*, scripts: Sequence[Path], concurrency: Sequence[int], out: Path,
                         profile: str = "cpu", llm_url: str | None = None,
                         max_concurrent_calls: int | None = None,
                         limit_s: float = P95_LIMIT_S, console: Console) -> dict[str, Any]:
    from evals.audio_runner import _empty_calendar
    from evals.simulator.server import agent_server
    from voice_agent.config import Settings
    from voice_agent.store.db import make_engine, upgrade

    env = profile_env(profile, llm_url=llm_url)
    if max_concurrent_calls is not None:
        env["VOICE_AGENT_MAX_CONCURRENT_CALLS"] = str(max_concurrent_calls)
    data_dir = (out / "load").resolve()
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    settings = Settings(data_dir=data_dir, database_url=None)
    machine = machine_info()
    levels = []
    with agent_server(data_dir, console=console, env=env) as url:
        engine = make_engine(settings.db_url)
        upgrade(engine)
        try:
            for c in concurrency:
                _empty_calendar(engine)
                sem = asyncio.Semaphore(c)
                outcomes = await asyncio.gather(*(
                    _one_call(p, url=url, settings=settings, engine=engine, tag=f"c{c}",
                              sem=sem) for p in scripts))
                level = level_summary(c, outcomes) | {"outcomes": outcomes}
                levels.append(level)
                console.print(f"C={c}: {level['completed']}/{level['calls']} completed, "
                              f"{level['refused']} refused, {level['failed']} failed, "
                              f"p95 {level['total']['p95']} s")
        finally:
            engine.dispose()
    return {"levels": levels, "capacity": capacity(levels, limit_s), "p95_limit_s": limit_s,
            "max_concurrent_calls": max_concurrent_calls or Settings().max_concurrent_calls,
            "machine": machine, "models": models_info(env, profile),
            "scripts": [p.name for p in scripts]}


def print_load_table(doc: dict[str, Any], console: Console) -> None:
    table = Table(title=f"load: end of caller speech -> first agent audio (s); capacity "
                  f"(p95 <= {doc['p95_limit_s']} s, none refused/failed): {doc['capacity']}")
    for col in ("C", "calls", "completed", "refused", "failed", "booking ok", "p50", "p95",
                "p99", "caller p95"):
        table.add_column(col, justify="right")
    for lv in doc["levels"]:
        t, cs = lv["total"], lv["caller_side"]
        table.add_row(*(str(x) for x in (
            lv["concurrency"], lv["calls"], lv["completed"], lv["refused"], lv["failed"],
            lv["booking_correct"], t["p50"], t["p95"], t["p99"], cs["p95"])))
    console.print(table)
