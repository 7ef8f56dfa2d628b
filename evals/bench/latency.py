"""``voice-agent bench latency``: ours against stock pipecat, same scripts, models and machine.

Each script is phoned in audio mode through the real Twilio path (the simulated caller, its
Piper voice, 8 kHz μ-law): first at our agent server (``voice-agent serve``, its own data
folder), then, after it has stopped, at stock pipecat (:mod:`evals.bench.stock_server`). Ours
is split into stages from the stored turn rows; stock from ``UserBotLatencyObserver``'s
breakdowns; both are also timed on the simulated caller's own clock (first agent audio received
minus the end of the caller's audio). Writes ``bench.json`` and ``report.html``.
"""

from __future__ import annotations

import os
import platform
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from evals.bench.profiles import profile_env
from evals.bench.stats import (
    PERCENTILES,
    REPORTED,
    bench_document,
    ours_turn_stages,
    stock_turn_stages,
    summarize,
)
from evals.script import load_script

__all__ = ["LatencyRun", "pick_scripts", "print_table", "rebuild_document", "run_latency_bench"]

CALLS_DIR = Path(__file__).resolve().parents[1] / "calls"


def pick_scripts(n: int, root: Path = CALLS_DIR) -> list[Path]:
    """``n`` scripts, deterministically: round r takes one more script of every category
    (folder, by name), the i-th category starting at its i-th script (by name, wrapping) so
    both businesses come up; a round that would overshoot takes evenly spaced categories, so
    12 of the 23 folders spread over the alphabet rather than its first half."""
    cats = sorted(d for d in root.iterdir() if d.is_dir() and any(d.glob("*.yaml")))
    files = {}
    for i, c in enumerate(cats):
        names = sorted(c.glob("*.yaml"))
        files[c] = names[i % len(names):] + names[:i % len(names)]
    picked: list[Path] = []
    r = 0
    while len(picked) < n:
        avail = [c for c in cats if len(files[c]) > r]
        if not avail:
            break
        need = n - len(picked)
        if need < len(avail):
            avail = [avail[i * len(avail) // need] for i in range(need)]
        picked += [files[c][r] for c in avail]
        r += 1
    return picked


@dataclass
class AgentRun:
    turns: list[dict[str, float]] = field(default_factory=list)  # stages per turn
    caller_side: list[float] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)  # per script: id, turns, ...


@dataclass
class LatencyRun:
    document: dict[str, Any]
    ours: AgentRun
    stock: AgentRun | None


async def _run_ours(scripts: Sequence[Path], data_dir: Path, env: dict[str, str],
                    console: Console) -> AgentRun:
    from evals.audio_runner import _empty_calendar
    from evals.phone_call import run_scripted_call
    from evals.simulator.server import agent_server
    from voice_agent.config import Settings
    from voice_agent.store.db import make_engine, upgrade

    settings = Settings(data_dir=data_dir, database_url=None)
    vad_stop = settings.vad_stop_secs  # the server reads the same environment
    run = AgentRun()
    with agent_server(data_dir, console=console, env=env) as url:
        engine = make_engine(settings.db_url)
        upgrade(engine)
        try:
            for path in scripts:
                _empty_calendar(engine)
                call = await run_scripted_call(
                    script_path=path, server_url=url, settings=settings, engine=engine,
                    recording=data_dir / "recordings" / f"caller-{path.stem}.wav",
                    console=Console(quiet=True))
                stages = [s for t in call.turns
                          if (s := ours_turn_stages(t.model_dump(), vad_stop_secs=vad_stop))]
                caller = [t.latency_s for t in call.result.turns if t.latency_s is not None]
                run.turns += stages
                run.caller_side += caller
                run.calls.append({"id": call.script.id, "category": path.parent.name,
                                  "call_sid": call.result.call_sid,
                                  "outcome_correct": call.verdict.outcome_correct,
                                  "turns": [{"latency": s} for s in stages],
                                  "caller_side": caller})
                console.print(f"ours  {call.script.id}: {len(stages)} turns, outcome "
                              f"{'ok' if call.verdict.outcome_correct else 'NOT as expected'}")
        finally:
            engine.dispose()
    return run


async def _run_stock(scripts: Sequence[Path], data_dir: Path, env: dict[str, str],
                     console: Console) -> AgentRun:
    from evals.bench.stock_server import read_breakdowns, stock_server
    from evals.simulator.agent_ear import AgentEar
    from evals.simulator.caller import place_call
    from evals.simulator.caller_voice import make_caller_voice
    from voice_agent.config import Settings

    settings = Settings()
    run = AgentRun()
    with stock_server(data_dir, console=console, env=env) as url:
        for path in scripts:
            script = load_script(path)
            result = await place_call(
                server_url=url, script=script, auth_token="any-token",
                recording_path=data_dir / "recordings" / f"caller-{path.stem}.wav",
                agent_text_provider=AgentEar.from_models_dir(settings.models_dir),
                voice=make_caller_voice("piper"))
            caller = [t.latency_s for t in result.turns if t.latency_s is not None]
            run.caller_side += caller
            run.calls.append({"id": script.id, "category": path.parent.name,
                              "call_sid": result.call_sid, "caller_side": caller, "turns": []})
            console.print(f"stock {script.id}: {len(caller)} caller turns answered")
    by_call = {c["call_sid"]: c for c in run.calls}
    for record in read_breakdowns(data_dir):
        stages = stock_turn_stages(record)
        if stages is not None:
            run.turns.append(stages)
            if record.get("call_sid") in by_call:
                by_call[record["call_sid"]]["turns"].append({"latency": stages})
    return run


def machine_info() -> dict[str, Any]:
    cpu = platform.processor()
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in
                    Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpu": cpu, "cpus": os.cpu_count(), "load_avg_at_start": list(os.getloadavg())}


def models_info(env: dict[str, str], profile: str) -> dict[str, Any]:
    import importlib.metadata

    from voice_agent.config import Settings

    s = Settings()
    device = env.get("VOICE_AGENT_STT_DEVICE", s.stt_device)
    compute = env.get("VOICE_AGENT_STT_COMPUTE_TYPE", s.stt_compute_type)
    return {"profile": profile,
            "stt": f"faster-whisper base, assembled in {s.models_dir} ({device}, {compute})",
            "llm": env.get("LLM_MODEL", s.llm_model),
            "llm_server": env.get("LLM_BASE_URL") or s.llm_base_url
            or f"embedded llama.cpp sidecar ({s.llm_embedded} GGUF, n_ctx {s.llm_ctx}, "
               f"{s.llm_threads} threads)",
            "llm_max_tokens": s.llm_max_tokens,
            "tts": "Piper en_US-joe-medium (piper.http_server sidecar)",
            "pipecat": importlib.metadata.version("pipecat-ai")}


async def run_latency_bench(*, scripts: Sequence[Path], out: Path, profile: str = "cpu",
                            llm_url: str | None = None, stock: bool = True,
                            console: Console) -> LatencyRun:
    env = profile_env(profile, llm_url=llm_url)
    shutil.rmtree(out / "ours", ignore_errors=True)
    shutil.rmtree(out / "stock", ignore_errors=True)
    (out / "ours").mkdir(parents=True)
    machine = machine_info()
    t0 = time.monotonic()
    ours = await _run_ours(scripts, (out / "ours").resolve(), env, console)
    stock_run = (await _run_stock(scripts, (out / "stock").resolve(), env, console)
                 if stock else None)
    document = bench_document(
        ours=summarize(ours.turns, ours.caller_side),
        stock=summarize(stock_run.turns, stock_run.caller_side) if stock_run else None,
        machine=machine, models=models_info(env, profile),
        scripts=[str(p.relative_to(CALLS_DIR.parent.parent)) if p.is_relative_to(
            CALLS_DIR.parent.parent) else str(p) for p in scripts],
        extra={"seconds": round(time.monotonic() - t0, 1),
               "calls": {"ours": ours.calls, "stock": stock_run.calls if stock_run else []}})
    return LatencyRun(document, ours, stock_run)


def rebuild_document(out: Path) -> dict[str, Any]:
    """``out/bench.json`` again from what the run left under ``out`` (our turn rows in
    ``ours/voice_agent.db``, stock's breakdowns in ``stock/stock-latency.jsonl``, the caller-side
    figures in the old ``bench.json``), with the stage arithmetic of this code: no call placed."""
    import json

    from sqlmodel import Session, select

    from evals.bench.stock_server import read_breakdowns
    from voice_agent.config import Settings
    from voice_agent.store.db import make_engine
    from voice_agent.store.models import Call, Turn

    old = json.loads((out / "bench.json").read_text(encoding="utf-8"))
    calls = old.get("calls") or {}
    settings = Settings(data_dir=(out / "ours").resolve(), database_url=None)
    engine = make_engine(settings.db_url)
    try:
        with Session(engine) as session:
            sid_of = {c.id: c.provider_call_id for c in session.exec(select(Call)).all()}
            rows = [(sid_of.get(t.call_id), t.model_dump()) for t in session.exec(
                select(Turn).order_by(Turn.call_id, Turn.index)).all()]  # type: ignore[arg-type]
    finally:
        engine.dispose()
    ours = [(sid, s) for sid, t in rows
            if (s := ours_turn_stages(t, vad_stop_secs=settings.vad_stop_secs))]
    stock = [(r.get("call_sid"), s) for r in read_breakdowns((out / "stock").resolve())
             if (s := stock_turn_stages(r))]
    for who, turns in (("ours", ours), ("stock", stock)):
        for call in calls.get(who) or []:
            if call.get("call_sid"):
                call["turns"] = [{"latency": s} for sid, s in turns if sid == call["call_sid"]]
    caller = {who: [v for c in calls.get(who) or [] for v in c.get("caller_side") or []]
              for who in ("ours", "stock")}
    has_stock = bool(stock or calls.get("stock"))
    return bench_document(
        ours=summarize([s for _, s in ours], caller["ours"]),
        stock=summarize([s for _, s in stock], caller["stock"]) if has_stock else None,
        machine=old.get("machine") or {}, models=old.get("models") or {},
        scripts=old.get("scripts") or [],
        extra={"seconds": old.get("seconds"), "calls": calls, "rebuilt": True})


def _f(v: Any) -> str:
    return "-" if v is None else f"{v:.2f}"


def print_table(document: dict[str, Any], console: Console) -> None:
    """Ours, stock and ours/stock as ``p50 / p95 / p99`` per stage (fits 100 columns)."""
    ours, stock, ratio = document["ours"], document.get("stock") or {}, document.get("ratio") or {}
    n_scripts = len(document.get("scripts") or [])
    table = Table(title=f"end of caller speech -> first agent audio (s), {n_scripts} scripts: "
                  "p50 / p95 / p99")
    for col in ("stage", "ours", "stock", "ours/stock", "n ours", "n stock"):
        table.add_column(col, justify="left" if col == "stage" else "right")
    for name in REPORTED:
        cells = [" / ".join(_f((src.get(name) or {}).get(p)) for p in PERCENTILES)
                 for src in (ours, stock, ratio)]
        table.add_row(name, *cells, str((ours.get(name) or {}).get("n", "-")),
                      str((stock.get(name) or {}).get("n", "-")))
    console.print(table)
