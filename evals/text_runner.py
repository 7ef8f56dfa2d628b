"""Replay one call script in text mode: caller lines go straight into the production dialog
manager (STT confidence 1.0) against a fresh, seeded calendar and the script's pinned clock."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai
from sqlmodel import Session, select

from connectors.base import Booking
from connectors.builtin import BuiltinCalendar
from connectors.schedule import Business
from evals.forbidden import TurnLog, forbidden_events
from evals.outcome import Verdict, judge, phones_match, wrong_actions
from evals.script import CallScript
from evals.simulator.caller_policy import ScriptedCaller
from voice_agent.booking.outbox import Outbox
from voice_agent.dialog.llm_reading import LLMReader
from voice_agent.dialog.manager import DialogManager, LLMOptions, LLMUnavailableError
from voice_agent.dialog.prompt import load_replies, render_system_prompt
from voice_agent.store.db import make_engine, upgrade
from voice_agent.store.models import BookingIntent, Call

MAX_TURNS = 20


@dataclass
class CallRun:
    id: str
    category: str
    outcome: str
    outcome_correct: bool
    booking_fields_correct: bool | None
    wrong_actions: list[str]
    forbidden_events: list[str]
    agent_turns: int
    tool_calls: int
    tool_calls_rejected: int
    review_items: int
    problems: list[str]
    turns: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None
    voice: str | None = None  # audio mode: the caller's voice (caller_voice.VOICES)
    line: str | None = None  # audio mode: the telephone line (phone_line.PhoneLine.name)
    # audio mode: per caller line, what the simulated caller heard the agent say before it
    # (its own whisper transcript, which its choice of line followed) and the line said
    caller_heard: list[dict[str, Any]] | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


async def _calendar_state(cal: BuiltinCalendar, script: CallScript) -> list[Booking]:
    return await cal.list_bookings()


@dataclass
class Judged:
    outcome: str
    verdict: Verdict
    wrong: list[str]
    events: list[str]
    tool_calls: int
    rejected: int


def count_tool_calls(records: list[dict[str, Any]]) -> tuple[int, int]:
    """LLM tool calls (forced proposals and free ones) and how many the policy rejected."""
    calls = rejected = 0
    for rec in records:
        for event in rec.get("policy_events") or []:
            if event.get("event") == "tool_proposal":
                calls += 1
                rejected += 0 if event.get("accepted") else 1
        for tc in rec.get("tool_calls") or []:
            if tc.get("source") != "policy":
                calls += 1
                rejected += tc.get("status") == "rejected"
    return calls, rejected


async def judge_call(
    script: CallScript, business: Business, cal: BuiltinCalendar, before: dict[str, Booking],
    agent_outcome: str, logs: list[TurnLog], records: list[dict[str, Any]], greeting: str = "",
    heard: list[tuple[str, str | None]] | None = None,
) -> Judged:
    """The call's outcome, booking fields and forbidden events, read from the calendar."""
    after = await _calendar_state(cal, script)
    # A moved booking keeps its id: compare what each entry says, not only which exist.
    new = [b for b in after if before.get(b.id) != b]
    after_by_id = {a.id: a for a in after}
    gone = [b for b in before.values() if after_by_id.get(b.id) != b]
    outcome = agent_outcome
    if gone and new:
        outcome = "rescheduled"
    elif gone:
        outcome = "cancelled"
    verdict = judge(script, new, observed_outcome=outcome)
    if script.expect.cancelled is not None:
        mine = {b.id for b in before.values() if phones_match(b.phone, script.caller.phone)}
        still = [b for b in after if b.id in mine and b.service == script.expect.cancelled.service
                 and b.start == script.expect.cancelled.start]
        if still:
            verdict.outcome_correct = False
            verdict.problems.append("the booking to cancel is still in the calendar")
    wrong = wrong_actions(script, list(before.values()), after)
    if wrong:
        verdict.outcome_correct = False
        verdict.problems.extend(f"wrong action: {w}" for w in wrong)
    events = forbidden_events(business=business, today=script.now.astimezone(
        business.tz).date(), turns=logs, new_bookings=new, all_bookings=after,
        greeting=greeting, heard=heard)
    calls, rejected = count_tool_calls(records)
    return Judged(outcome, verdict, wrong, events, calls, rejected)


async def calendar_before(cal: BuiltinCalendar, script: CallScript) -> dict[str, Booking]:
    await cal.seed([e.model_dump(exclude_none=True) for e in script.calendar])
    return {b.id: b for b in await _calendar_state(cal, script)}


async def run_text_script(
    script: CallScript, *, business: Business, llm: openai.AsyncOpenAI, llm_model: str,
    prompts_dir: Path, work_dir: Path, category: str = "", reading: str = "when_unsure",
    schema_mode: str = "llama_cpp",
) -> CallRun:
    t0 = time.monotonic()
    engine = make_engine(f"sqlite:///{work_dir / (script.id + '.db')}")
    upgrade(engine)
    try:
        cal = BuiltinCalendar(business=business, engine=engine)
        before = await calendar_before(cal, script)
        with Session(engine) as session:
            call = Call(business=business.name, caller_phone=script.caller.phone,
                        provider="text-eval", clock_now=script.now)
            session.add(call)
            session.commit()
            call_id = call.id
        manager = DialogManager(
            business=business, connector=cal, llm=llm, llm_options=LLMOptions(model=llm_model),
            prompt=render_system_prompt(prompts_dir, business, script.now),
            replies=load_replies(prompts_dir), now=script.now,
            caller_phone=script.caller.phone, outbox=Outbox(engine), call_id=call_id,
            reader=LLMReader(llm, model=llm_model, business=business,
                             schema_mode=schema_mode),  # type: ignore[arg-type]
            reading=reading,
        )
        greeting = agent = manager.greeting()
        caller = ScriptedCaller(script.caller.turns, script.caller.facts,
                                caller_id=script.caller.phone)
        logs: list[TurnLog] = []
        records: list[dict[str, Any]] = []
        error = None
        while len(logs) < MAX_TURNS:
            line = caller.reply(agent)
            if line is None:
                break
            try:
                result = await manager.handle_turn(line.text)
            except LLMUnavailableError as exc:
                error = f"llm unavailable: {exc}"[:200]
                break
            await manager.settle()  # a caller takes seconds to answer; proposals land first
            agent = result.agent_text
            executed = [t["name"] for t in result.tool_calls if t["status"] == "executed"]
            logs.append(TurnLog(caller=line.text, agent=agent, executed_tools=executed,
                                caller_label=line.label))
            records.append({"caller": line.text, "label": line.label, "agent": agent,
                            "tool_calls": result.tool_calls,
                            "policy_events": result.policy_events})
            if result.end_call:
                break
        await manager.hang_up()  # the caller's side of the line goes dead
        await manager.settle()
        judged = await judge_call(script, business, cal, before, manager.state.outcome, logs,
                                  records, greeting)
        with Session(engine) as session:
            review = len(session.exec(select(BookingIntent).where(
                BookingIntent.status == "review")).all())
        return CallRun(
            id=script.id, category=category, outcome=judged.outcome,
            outcome_correct=judged.verdict.outcome_correct and error is None,
            booking_fields_correct=judged.verdict.booking_fields_correct,
            wrong_actions=judged.wrong, forbidden_events=judged.events, agent_turns=len(logs) + 1,
            tool_calls=judged.tool_calls, tool_calls_rejected=judged.rejected,
            review_items=review, problems=judged.verdict.problems, turns=records,
            seconds=round(time.monotonic() - t0, 2), error=error,
        )
    finally:
        engine.dispose()
