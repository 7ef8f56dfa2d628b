"""Place one scripted, simulated Twilio call against a running server and judge it.

Used by ``voice-agent call`` and ``voice-agent demo``: seeds the script's calendar into the
server's database, phones the server like Twilio, prints the live transcript, then reads
the calendar and the stored turns back and reports the booking and per-turn latencies.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

from connectors.builtin import BuiltinCalendar
from connectors.schedule import load_businesses
from evals.outcome import Verdict, judge
from evals.script import CallScript, load_script
from evals.simulator.agent_ear import AgentEar
from evals.simulator.caller import CallResult, place_call
from evals.simulator.caller_voice import make_caller_voice
from evals.simulator.phone_line import PhoneLine
from evals.simulator.sip_phone import SipTarget
from voice_agent.config import Settings
from voice_agent.store.calls import CallStore
from voice_agent.store.models import Call, Turn


@dataclass
class ScriptedCall:
    script: CallScript
    result: CallResult
    verdict: Verdict
    turns: list[Turn]
    outcome_text: str


async def seed_calendar(calendar: BuiltinCalendar, script: CallScript) -> None:
    """Insert the script's pre-existing bookings; entries already present are kept once."""
    for entry in script.calendar:
        existing = await calendar.find_bookings(phone=entry.phone) if entry.phone else []
        if any(b.start == entry.start and b.service == entry.service for b in existing):
            continue
        await calendar.seed([entry.model_dump(exclude_none=True)])


@dataclass
class PlacedCall:
    script: CallScript
    result: CallResult
    call: Call | None  # the server's row, once it has finished the call
    turns: list[Turn]


async def place_scripted_call(
    *,
    script: CallScript,
    server_url: str,
    settings: Settings,
    engine: Engine,
    recording: Path,
    console: Console,
    caller_voice: str = "piper",
    phone_line: PhoneLine | None = None,
    sip: SipTarget | None = None,
) -> PlacedCall:
    """Phone the server as the script's caller; return the call and its stored turns."""

    def on_event(kind: str, text: str) -> None:
        if kind == "caller":
            console.print(f"[bold cyan]caller[/]  {text}")
        elif kind == "agent":
            console.print(f"[bold green]agent [/]  {text}")
        elif kind in ("timeout", "hangup"):
            console.print(f"[dim]{kind}: {text}[/]")

    ear = AgentEar.from_models_dir(settings.models_dir, on_event)
    console.print(f"[dim]calling {server_url} as {script.caller.phone} ({script.id})[/]")
    result = await place_call(
        server_url=server_url, script=script, auth_token=settings.twilio_auth_token,
        account_sid=settings.twilio_account_sid, recording_path=recording,
        on_event=on_event, agent_text_provider=ear, voice=make_caller_voice(caller_voice),
        line=phone_line, sip=sip,
    )
    store = CallStore(engine)
    call = await _finished_call(store, result.call_sid)
    return PlacedCall(script, result, call, store.turns(call.id) if call else [])


async def run_scripted_call(
    *,
    script_path: Path,
    server_url: str,
    settings: Settings,
    engine: Engine,
    recording: Path,
    console: Console,
    caller_voice: str = "piper",
    phone_line: PhoneLine | None = None,
    sip: SipTarget | None = None,
) -> ScriptedCall:
    """Seed the script's calendar, place the call, and judge the booking it produced."""
    script = load_script(script_path)
    business = load_businesses(settings.businesses_dir)[script.business]
    calendar = BuiltinCalendar(business=business, engine=engine)
    await seed_calendar(calendar, script)
    before = {b.id for b in await calendar.find_bookings(phone=script.caller.phone)}
    placed = await place_scripted_call(
        script=script, server_url=server_url, settings=settings, engine=engine,
        recording=recording, console=console, caller_voice=caller_voice,
        phone_line=phone_line, sip=sip,
    )
    after = await calendar.find_bookings(phone=script.caller.phone)
    new = [b for b in after if b.id not in before]
    call = placed.call
    outcome = (call.outcome if call else None) or ("booked" if new else "no_booking")
    verdict = judge(script, new, observed_outcome=outcome)
    return ScriptedCall(script, placed.result, verdict, placed.turns, outcome)


async def _finished_call(store: CallStore, call_sid: str, timeout_s: float = 15.0) -> Call | None:
    """The server finishes its call row (recording, outcome) just after the socket closes."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        call = store.find_call(call_sid)
        done = call is not None and call.status != "in_progress"
        if done or asyncio.get_running_loop().time() > deadline:
            return call
        await asyncio.sleep(0.2)


def print_report(call: ScriptedCall, console: Console) -> None:
    v = call.verdict
    if v.booking is not None:
        b = v.booking
        console.print(
            f"\n[bold]booking[/] {b.id[:8]}: {b.service} on {b.start.isoformat()} for "
            f"{b.name} ({b.phone}) with {b.staff or 'any staff'}"
        )
    else:
        console.print("\n[bold]booking[/] none")
    status = "[green]as expected[/]" if v.outcome_correct else "[red]NOT as expected[/]"
    console.print(f"outcome {call.outcome_text} (expected {call.script.expect.outcome}): {status}")
    for problem in v.problems:
        console.print(f"  - {problem}")
    table = Table(title="per-turn latency: caller end of speech -> first agent audio (server)")
    for col in ("turn", *STAGES, "caller-side"):
        table.add_column(col, justify="right")
    for t, timing in zip(call.turns, call.result.turns, strict=False):
        stages = [_fmt(v) for v in stage_split(t)]
        table.add_row(str(t.index), *stages, _fmt(timing.latency_s))
    console.print(table)
    if call.result.recording_path:
        console.print(f"caller-side recording: {call.result.recording_path}")


STAGES = ("VAD+STT", "turn wait", "dialog+LLM", "TTS", "send", "total")


def stage_split(t: Turn) -> list[float | None]:
    """Seconds per stage from the caller's end of speech to the first reply audio sent."""
    marks = [t.speech_end_ts, t.stt_done_ts, t.turn_end_ts, t.llm_first_token_ts,
             t.tts_first_audio_ts, t.first_audio_sent_ts]
    stages = [b - a if a is not None and b is not None else None
              for a, b in itertools.pairwise(marks)]
    total = marks[-1] - marks[0] if marks[0] is not None and marks[-1] is not None else None
    return [*stages, total]


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
