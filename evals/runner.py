"""``voice-agent eval run``: replay call scripts and write ``results.json``.

Text mode feeds caller lines to the production dialog manager (see ``text_runner``). With no
``--llm`` the embedded LLM sidecar is started exactly as ``serve`` starts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openai
from rich.console import Console
from rich.progress import Progress

from connectors.schedule import Business, load_businesses
from evals.report import write_report
from evals.script import CallScript, load_script
from evals.stats import percentiles
from evals.text_runner import CallRun, run_text_script
from voice_agent.config import Settings
from voice_agent.runtime.model_files import assemble_llm
from voice_agent.runtime.sidecars import free_port, llm_sidecar


def discover(paths: list[Path]) -> list[tuple[Path, CallScript]]:
    """Scripts under ``paths``; YAML files in a ``businesses/`` folder are fixtures, not scripts."""
    files: list[Path] = []
    for p in paths:
        if not p.is_dir():
            files.append(p)
            continue
        files.extend(f for f in sorted(p.rglob("*.yaml"))
                     if "businesses" not in f.relative_to(p).parts[:-1])
    return [(f, load_script(f)) for f in files]


def fixture_dirs(paths: list[Path]) -> list[Path]:
    """``businesses/`` folders in or above the script paths (e.g. evals/datasets/sgd/businesses)."""
    found: list[Path] = []
    for p in paths:
        start = p.resolve() if p.is_dir() else p.resolve().parent
        for d in (start, *start.parents):
            if (d / "businesses").is_dir() and (d / "businesses") not in found:
                found.append(d / "businesses")
    return found


def load_all_businesses(settings: Settings, paths: list[Path]) -> dict[str, Business]:
    """``settings.businesses_dir`` plus fixtures found next to the scripts (the former wins)."""
    businesses: dict[str, Business] = {}
    for d in reversed(fixture_dirs(paths)):
        businesses.update(load_businesses(d))
    return businesses | load_businesses(settings.businesses_dir)


@contextlib.asynccontextmanager
async def llm_endpoint(settings: Settings, url: str | None) -> AsyncIterator[str]:
    if url:
        yield url.rstrip("/")
        return
    sidecar = llm_sidecar(
        gguf=assemble_llm(settings.models_dir, settings.llm_embedded), port=free_port(),
        n_ctx=settings.llm_ctx,
        n_threads=settings.llm_threads, model_alias=settings.llm_model,
        log_path=settings.data_dir / "logs" / "eval-llm.log",
    )
    await sidecar.start()
    try:
        yield sidecar.base_url + "/v1"
    finally:
        await sidecar.stop()


def summarize(runs: list[CallRun], latencies: list[float]) -> dict[str, Any]:
    n = len(runs) or 1
    with_booking = [r for r in runs if r.booking_fields_correct is not None]
    return {
        "wrong_actions": sum(len(r.wrong_actions) for r in runs),
        "calls_with_wrong_actions": sum(bool(r.wrong_actions) for r in runs),
        "scripts": len(runs),
        "outcome_accuracy": round(sum(r.outcome_correct for r in runs) / n, 4),
        "booking_fields_accuracy": round(
            sum(bool(r.booking_fields_correct) for r in with_booking) / len(with_booking), 4
        ) if with_booking else None,
        "forbidden_events": sum(len(r.forbidden_events) for r in runs),
        "tool_calls": sum(r.tool_calls for r in runs),
        "tool_calls_rejected": sum(r.tool_calls_rejected for r in runs),
        "tool_call_rejection_rate": round(
            sum(r.tool_calls_rejected for r in runs) / max(1, sum(r.tool_calls for r in runs)), 4),
        "review_items": sum(r.review_items for r in runs),
        "mean_agent_turns": round(sum(r.agent_turns for r in runs) / n, 2),
        "llm_reading_s": _reading_percentiles(runs),
        "latency_s": percentiles(latencies),
        "latency_by_stage_s": _stage_percentiles(runs),
        "errors": sum(r.error is not None for r in runs),
        "by_category": _by_category(runs),
        **({"by_voice": _by(runs, "voice"), "by_line": _by(runs, "line")}
           if any(r.voice for r in runs) else {}),
    }


def _stage_percentiles(runs: list[CallRun]) -> dict[str, dict[str, float | None]] | None:
    """p50/p95/p99 of each pipeline stage over all turns (audio mode; None in text mode)."""
    stages: dict[str, list[float]] = {}
    for run in runs:
        for turn in run.turns:
            for stage, seconds in (turn.get("latency") or {}).items():
                if seconds is not None:
                    stages.setdefault(stage, []).append(seconds)
    return {stage: percentiles(values) for stage, values in stages.items()} or None


def _reading_percentiles(runs: list[CallRun]) -> dict[str, float | None]:
    """p50/p95 of the LLM's turn readings (the turns where one ran)."""
    seconds = [e["seconds"] for r in runs for turn in r.turns
               for e in turn.get("policy_events") or [] if e.get("event") == "llm_reading"
               and e.get("seconds") is not None]
    return percentiles(seconds) | {"readings": len(seconds)}


def _by_category(runs: list[CallRun]) -> dict[str, dict[str, float]]:
    return _by(runs, "category")


def _by(runs: list[CallRun], key: str) -> dict[str, dict[str, float]]:
    """Outcome accuracy and wrong actions per value of ``key`` (category, voice, line)."""
    groups: dict[str, list[CallRun]] = {}
    for r in runs:
        groups.setdefault(str(getattr(r, key)), []).append(r)
    return {g: {"scripts": len(rs), "outcome_accuracy": round(
        sum(r.outcome_correct for r in rs) / len(rs), 4),
        "wrong_actions": sum(len(r.wrong_actions) for r in rs)}
        for g, rs in sorted(groups.items())}


async def run_suite(
    paths: list[Path], *, out: Path, settings: Settings, llm_url: str | None, jobs: int = 1,
    console: Console | None = None, mode: str = "text", reading: str | None = None,
    voices: list[str] | None = None, lines: list[str] | None = None,
) -> dict[str, Any]:
    console = console or Console()
    scripts = discover(paths)
    businesses = load_all_businesses(settings, paths)
    out.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before any call
    if mode == "audio":
        from evals.audio_runner import run_audio_suite

        def partial(runs: list[CallRun], latencies: list[float]) -> None:
            # An audio suite takes minutes a call: what is done so far is kept on disk.
            _write(list(runs), list(latencies), out, mode, None, name="results.partial.json")

        runs, latencies = await run_audio_suite(
            scripts, businesses=businesses, settings=settings, console=console,
            voices=voices or ["piper"], lines=lines or ["clean"], after_each=partial)
        return _write(runs, latencies, out, mode, None)
    runs: list[CallRun] = []
    # An external server (--llm) is taken to speak OpenAI's json_schema unless told otherwise.
    schema_mode = settings.llm_schema_mode if settings.llm_schema_mode != "auto" else (
        "openai" if llm_url else "llama_cpp")
    async with llm_endpoint(settings, llm_url) as base_url:
        llm = openai.AsyncOpenAI(base_url=base_url, api_key=settings.llm_api_key,
                                 timeout=settings.llm_timeout_s, max_retries=1)
        sem = asyncio.Semaphore(max(1, jobs))
        with tempfile.TemporaryDirectory() as work, Progress(console=console) as progress:
            task = progress.add_task("replaying calls", total=len(scripts))

            async def one(path: Path, script: CallScript) -> CallRun:
                async with sem:
                    run = await run_text_script(
                        script, business=businesses[script.business], llm=llm,
                        llm_model=settings.llm_model, prompts_dir=settings.prompts_dir,
                        work_dir=Path(work), category=path.parent.name,
                        reading=reading or ("always" if llm_url else "off"),
                        schema_mode=schema_mode,
                    )
                progress.advance(task)
                return run

            runs = list(await asyncio.gather(*(one(p, s) for p, s in scripts)))
        await llm.close()
    return _write(runs, [], out, mode, reading or ("always" if llm_url else "off"))


def _write(runs: list[CallRun], latencies: list[float], out: Path, mode: str,
           reading: str | None, *, name: str = "results.json") -> dict[str, Any]:
    runs.sort(key=lambda r: (r.outcome_correct, r.id))
    summary = summarize(runs, latencies) | {"mode": mode, "reading": reading}
    results = {"summary": summary, "calls": [r.as_dict() for r in runs]}
    (out / name).write_text(json.dumps(results, indent=2, default=str))
    if name == "results.json":
        write_report(results, out / "report.html")
    return results
