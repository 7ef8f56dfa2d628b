"""Run ``voice-agent eval nlu``: the regex reader, the LLM's typed reading and their merge on
SGD's user turns, with the embedded LLM sidecar or any OpenAI-compatible server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from evals.nlu import (
    SAMPLE,
    TODAY,
    asked_of,
    load_turns,
    regex_reader,
    score,
    sgd_business,
)
from evals.runner import llm_endpoint
from voice_agent.config import Settings
from voice_agent.dialog.llm_reading import LLMReader, ReadingContext, resolve
from voice_agent.dialog.merge import fast_reading_suffices, merge
from voice_agent.dialog.understanding import Understanding, understand


async def run_nlu(*, data: Path | None, readers: list[str], limit: int | None,
                  llm_url: str | None, settings: Settings, out: Path,
                  console: Console) -> dict[str, Any]:
    path = data or SAMPLE
    turns = load_turns(path, limit)
    report: dict[str, Any] = {"data": str(path), "turns": len(turns), "today": TODAY.isoformat(),
                              "model": settings.llm_model if not llm_url else llm_url,
                              "readers": {}}
    if "regex" in readers:
        report["readers"]["regex"] = score(turns, regex_reader()).as_dict()
    if {"llm", "merge"} & set(readers):
        business = sgd_business()
        fast = [understand(t.utterance, business, TODAY, asked=asked_of(t.system_before))
                for t in turns]
        llm_readings: list[Understanding | None] = []
        seconds: list[float] = []
        schema_mode = settings.llm_schema_mode if settings.llm_schema_mode != "auto" else (
            "openai" if llm_url else "llama_cpp")
        async with llm_endpoint(settings, llm_url) as base_url:
            client = openai.AsyncOpenAI(base_url=base_url, api_key=settings.llm_api_key,
                                        timeout=settings.llm_timeout_s, max_retries=1)
            reader = LLMReader(client, model=settings.llm_model, business=business,
                               schema_mode=schema_mode)
            with Progress(console=console) as progress:
                task = progress.add_task("LLM readings", total=len(turns))
                for turn in turns:
                    asked = asked_of(turn.system_before)
                    raw, secs = await reader.read(turn.utterance, TODAY, ReadingContext(
                        agent_said=turn.system_before, asked=asked))
                    llm_readings.append(None if raw is None else resolve(
                        raw, business, TODAY, turn.utterance))
                    seconds.append(secs)
                    progress.advance(task)
            await client.close()
        by_text = {t.utterance + "\x00" + t.system_before: i for i, t in enumerate(turns)}

        def pick(values: list[Understanding]):
            return lambda utt, sys: values[by_text[utt + "\x00" + sys]]

        empty = [r if r is not None else Understanding(text=t.utterance)
                 for r, t in zip(llm_readings, turns, strict=True)]
        failed = sum(r is None for r in llm_readings)
        if "llm" in readers:
            report["readers"]["llm"] = score(turns, pick(empty), seconds=seconds).as_dict() | {
                "failed_readings": failed}
        if "merge" in readers:
            merged = [merge(f, r, asked=asked_of(t.system_before)).understanding
                      for f, r, t in zip(fast, llm_readings, turns, strict=True)]
            report["readers"]["merge"] = score(turns, pick(merged), seconds=seconds).as_dict()
            # The CPU default: the LLM reads only where the fast reading does not settle it.
            gated = [merge(f, r, asked=asked_of(t.system_before)).understanding
                     if not fast_reading_suffices(
                f, asked_of(t.system_before)) else f
                for f, r, t in zip(fast, llm_readings, turns, strict=True)]
            used = [s if not fast_reading_suffices(f, asked_of(t.system_before)) else 0.0
                    for s, f, t in zip(seconds, fast, turns, strict=True)]
            report["readers"]["merge_when_unsure"] = score(
                turns, pick(gated), seconds=used).as_dict() | {
                "llm_share": round(sum(1 for s in used if s) / max(1, len(used)), 4)}
    _write(out, report)
    console.print(_table(report))
    return report


def _write(out: Path, report: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "nlu.json").write_text(json.dumps(report, indent=2))


def _table(report: dict[str, Any]) -> Table:
    table = Table(title=f"eval nlu: {report['turns']} SGD user turns ({report['data']})")
    for col in ("reader", "dates", "times", "affirm", "negate", "select", "request alts",
                "s/reading p50", "p95"):
        table.add_column(col, justify="right")
    for name, r in report["readers"].items():
        acts = r["acts"]
        table.add_row(
            name, f"{r['date']['accuracy']:.4f} (n={r['date']['n']})",
            f"{r['time']['accuracy']:.4f} (n={r['time']['n']})",
            *(f"{acts[a]['accuracy']:.4f}" for a in ("affirm", "negate", "select", "request_alts")),
            str(r["seconds_per_reading"]["p50"]), str(r["seconds_per_reading"]["p95"]))
    return table
