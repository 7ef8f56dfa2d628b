"""Soak test: N sequential simulated text-mode calls through one process, watching for leaks.

Each call runs the production ``DialogProcessor`` + ``DialogManager`` (policy, outbox, call
store, builtin calendar on SQLite) in a pipecat pipeline fed with caller turns as frames (no
audio, no models). The LLM is a deterministic stand-in served over httpx's MockTransport; with
``--stuck-prefill`` (the default) it never answers the prompt prefill, like an overloaded LLM
server, so every call leaves a background task behind unless the end of the call cancels it.
Each call books a haircut a week after the previous one (its pinned clock moves on).

Prints, at call 1, N/2 and N: resident memory, asyncio tasks, open file descriptors, live
DialogProcessor objects (after a GC) and LLM requests still hanging, then how many calls
booked.

    .venv/bin/python scripts/soak.py --calls 200
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import openai

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipecat.frames.frames import (  # noqa: E402
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.tests.utils import SleepFrame, run_test  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

from connectors.builtin import BuiltinCalendar, create_calendar_tables  # noqa: E402
from connectors.schedule import load_business  # noqa: E402
from connectors.sql import make_engine as make_calendar_engine  # noqa: E402
from voice_agent.booking.outbox import Outbox  # noqa: E402
from voice_agent.dialog.manager import DialogManager, LLMOptions  # noqa: E402
from voice_agent.dialog.prompt import load_replies, render_system_prompt  # noqa: E402
from voice_agent.pipeline.dialog_processor import DialogProcessor  # noqa: E402
from voice_agent.pipeline.turn_clock import TurnClock  # noqa: E402
from voice_agent.store.calls import CallStore  # noqa: E402
from voice_agent.store.db import make_engine, upgrade  # noqa: E402
from voice_agent.store.models import BookingIntent  # noqa: E402

NY = ZoneInfo("America/New_York")
STUCK: list[Any] = []  # the stand-in LLM's requests still hanging
FIRST_NOW = datetime(2026, 11, 23, 9, 0, tzinfo=NY)  # a Monday
CALLER = "+15551230001"
LINES = ["My name is Dana Smith, I'd like a haircut next Tuesday at 3 pm.",
         "Yes please, book it.", "That's fine.", "No, that's all, thank you."]


class StandInLLM:
    """Deterministic chat completions; the prefill (max_tokens=1) hangs when stuck. A stuck
    request is held by the stand-in, as an open connection to a real server holds it (an
    unreferenced one would just be garbage-collected, hiding the leak)."""

    def __init__(self, *, stuck_prefill: bool) -> None:
        self.stuck_prefill = stuck_prefill
        self.stuck: list[asyncio.Event] = []

    async def handler(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body.get("max_tokens") == 1 and self.stuck_prefill:
            never = asyncio.Event()
            self.stuck.append(never)
            try:
                await never.wait()
            finally:  # cancelled: the connection is given back
                self.stuck.remove(never)
        message = {"role": "assistant", "content": "Sorry, could you say that once more?"}
        return httpx.Response(200, json={
            "id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def sample(call: int) -> dict[str, Any]:
    gc.collect()
    return {"call": call, "rss_mib": round(rss_mib(), 1), "tasks": len(asyncio.all_tasks()),
            "fds": len(os.listdir("/proc/self/fd")),
            "processors": sum(isinstance(o, DialogProcessor) for o in gc.get_objects()),
            "stuck_llm_requests": len(STUCK)}


def frames_for(lines: list[str], pause_s: float) -> list[Any]:
    frames: list[Any] = []
    for line in lines:
        frames += [VADUserStartedSpeakingFrame(), SleepFrame(0.02), VADUserStoppedSpeakingFrame(),
                   SleepFrame(0.02), TranscriptionFrame(line, "caller", "now"),
                   SleepFrame(pause_s)]
    return frames


async def one_call(i: int, *, business: Any, store_engine: Any, calendar: BuiltinCalendar,
                   llm: openai.AsyncOpenAI, pause_s: float) -> None:
    now = FIRST_NOW + timedelta(weeks=i)
    store = CallStore(store_engine)
    call = await store.create_call(provider="soak", provider_call_id=f"soak-{i}",
                                   business=business.name, caller_phone=CALLER, clock_now=now)
    manager = DialogManager(
        business=business, connector=calendar, llm=llm, llm_options=LLMOptions(model="soak"),
        prompt=render_system_prompt(ROOT / "prompts", business, now),
        replies=load_replies(ROOT / "prompts"), now=now, caller_phone=CALLER,
        outbox=Outbox(store_engine), call_id=call.id)
    processor = DialogProcessor(manager=manager, store=store, call_id=call.id,
                                clock=TurnClock(vad_stop_secs=0.2), prompt_hash="soak",
                                speech_timeout_s=0.2)
    await run_test(processor, frames_to_send=frames_for(LINES, pause_s))
    await processor.flush()
    if os.environ.get("SOAK_DEBUG"):
        for caller, agent in processor.outcome.transcript:
            print(f"  caller: {caller}\n  agent:  {agent}")
    await store.finish_call(call.id, status="completed", reason=processor.outcome.end_reason)


async def main(calls: int, stuck_prefill: bool, pause_s: float) -> None:
    logging.basicConfig(level=logging.ERROR)
    business = load_business(ROOT / "businesses" / "demo-salon.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        store_engine = make_engine(f"sqlite:///{tmp}/store.db")
        upgrade(store_engine)
        cal_engine = make_calendar_engine(f"sqlite:///{tmp}/calendar.db")
        create_calendar_tables(cal_engine)
        calendar = BuiltinCalendar(business=business, engine=cal_engine)
        stand_in = StandInLLM(stuck_prefill=stuck_prefill)
        http = httpx.AsyncClient(transport=httpx.MockTransport(stand_in.handler))
        llm = openai.AsyncOpenAI(base_url="http://llm.soak/v1", api_key="x", http_client=http,
                                 max_retries=0)
        marks = {1, max(1, calls // 2), calls}
        global STUCK
        STUCK = stand_in.stuck
        started = time.monotonic()
        print(f"{'call':>5} {'rss_mib':>8} {'tasks':>6} {'fds':>5} {'processors':>10} "
              f"{'stuck_llm':>9}", flush=True)
        for i in range(1, calls + 1):
            await one_call(i, business=business, store_engine=store_engine, calendar=calendar,
                           llm=llm, pause_s=pause_s)
            if i in marks:
                s = sample(i)
                print(f"{s['call']:>5} {s['rss_mib']:>8} {s['tasks']:>6} {s['fds']:>5} "
                      f"{s['processors']:>10} {s['stuck_llm_requests']:>9}", flush=True)
        with Session(store_engine) as session:
            intents = session.exec(select(BookingIntent).where(
                BookingIntent.action == "book")).all()
        booked = sum(1 for x in intents if x.status == "done")
        print(f"{calls} calls in {time.monotonic() - started:.0f} s; {booked} booked "
              f"({len(await calendar.list_bookings())} in the calendar)")
        await http.aclose()
        store_engine.dispose()
        cal_engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--pause", type=float, default=1.2,
                        help="seconds after each caller line (the reply is decided by then)")
    parser.add_argument("--answering-prefill", action="store_true",
                        help="the stand-in LLM answers the prompt prefill too")
    args = parser.parse_args()
    asyncio.run(main(args.calls, not args.answering_prefill, args.pause))
