"""Replay call scripts in audio mode: synthesised caller speech over the real Twilio path.

A real agent server (embedded CPU defaults, its own data folder) is started once; each
script's calendar is seeded into the server's database (the calendar tables are emptied
between scripts), the simulated Twilio caller phones the server and waits for each reply as
a caller would, and the call is judged from the calendar and the stored turn rows, with
per-turn latency by stage. With several caller voices or telephone lines, script *i* is
phoned with combination *i* of voices x lines in turn, so one pass over the scripts covers
every voice and every line and the summary breaks the results down by each.
"""

from __future__ import annotations

import itertools
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from sqlalchemy import Engine, delete
from sqlmodel import Session, select

from connectors.builtin import BuiltinCalendar
from connectors.schedule import Business
from connectors.sql import CalAppointment, CalStaffCell
from evals.forbidden import TurnLog
from evals.phone_call import STAGES, PlacedCall, place_scripted_call, stage_split
from evals.script import CallScript
from evals.simulator.phone_line import parse_line
from evals.simulator.server import agent_server
from evals.text_runner import CallRun, calendar_before, judge_call
from voice_agent.config import Settings
from voice_agent.store.db import make_engine, upgrade
from voice_agent.store.review import ReviewItem


def _empty_calendar(engine: Engine) -> None:
    with Session(engine) as session:
        session.exec(delete(CalStaffCell))  # type: ignore[call-overload]
        session.exec(delete(CalAppointment))  # type: ignore[call-overload]
        session.commit()


def _turn_records(call: PlacedCall) -> tuple[list[TurnLog], list[dict[str, Any]]]:
    logs, records = [], []
    for t in call.turns:
        executed = [c["name"] for c in t.tool_calls if c.get("status") == "executed"]
        logs.append(TurnLog(caller=t.caller_text or "", agent=t.agent_text or "",
                            executed_tools=executed))
        stages = dict(zip(STAGES, stage_split(t), strict=True))
        records.append({"caller": t.caller_text, "agent": t.agent_text,
                        "tool_calls": t.tool_calls, "policy_events": t.policy_events,
                        "stt_avg_logprob": t.stt_avg_logprob, "latency": stages})
    return logs, records


async def run_audio_script(
    script: CallScript, path: Path, *, business: Business, url: str, settings: Settings,
    engine: Engine, console: Console, voice: str = "piper", line: str = "clean",
) -> tuple[CallRun, list[float]]:
    t0 = time.monotonic()
    _empty_calendar(engine)
    cal = BuiltinCalendar(business=business, engine=engine)
    before = await calendar_before(cal, script)
    call = await place_scripted_call(
        script=script, server_url=url, settings=settings, engine=engine,
        recording=settings.data_dir / "recordings" / f"caller-{script.id}.wav",
        console=Console(quiet=True), caller_voice=voice, phone_line=parse_line(line),
    )
    logs, records = _turn_records(call)
    row = call.call
    with Session(engine) as session:
        review = len(session.exec(select(ReviewItem).where(
            ReviewItem.call_id == (row.id if row else ""))).all())
    agent_outcome = (row.outcome if row else None) or "no_booking"
    heard = [(t.heard or "", t.label) for t in call.result.turns]
    judged = await judge_call(script, business, cal, before, agent_outcome, logs, records,
                              heard=heard)
    totals = [r["latency"]["total"] for r in records if r["latency"]["total"] is not None]
    run = CallRun(
        id=script.id, category=path.parent.name, outcome=judged.outcome,
        outcome_correct=judged.verdict.outcome_correct,
        booking_fields_correct=judged.verdict.booking_fields_correct,
        wrong_actions=judged.wrong, forbidden_events=judged.events, agent_turns=len(logs) + 1,
        tool_calls=judged.tool_calls, tool_calls_rejected=judged.rejected,
        review_items=review, problems=judged.verdict.problems, turns=records,
        seconds=round(time.monotonic() - t0, 2), voice=voice, line=parse_line(line).name,
        caller_heard=[{"heard": t.heard, "said": t.line, "label": t.label}
                      for t in call.result.turns],
    )
    return run, totals


async def run_audio_suite(
    scripts: list[tuple[Path, CallScript]], *, businesses: dict[str, Business],
    settings: Settings, console: Console, voices: list[str] | None = None,
    lines: list[str] | None = None,
    after_each: Callable[[list[CallRun], list[float]], None] | None = None,
) -> tuple[list[CallRun], list[float]]:
    data_dir = settings.data_dir / "audio-eval"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    server_settings = Settings(data_dir=data_dir, database_url=None,
                               models_dir=settings.models_dir)
    for spec in lines or []:
        parse_line(spec)  # a bad spec fails before any call is placed
    conditions = list(itertools.product(voices or ["piper"], lines or ["clean"]))
    runs: list[CallRun] = []
    latencies: list[float] = []
    with agent_server(data_dir, console=console) as url:
        engine = make_engine(server_settings.db_url)
        upgrade(engine)
        try:
            with Progress(console=console) as progress:
                task = progress.add_task("phoning the agent", total=len(scripts))
                for i, (path, script) in enumerate(scripts):
                    voice, line = conditions[i % len(conditions)]
                    run, totals = await run_audio_script(
                        script, path, business=businesses[script.business], url=url,
                        settings=server_settings, engine=engine, console=console,
                        voice=voice, line=line)
                    runs.append(run)
                    latencies.extend(totals)
                    if after_each is not None:
                        after_each(runs, latencies)
                    progress.advance(task)
        finally:
            engine.dispose()
    return runs, latencies
