"""Read one caller turn: the fast reader always, the LLM's typed reading when configured.

With ``reading="always"`` (a production LLM server) the LLM reads every turn; with
``"when_unsure"`` only turns the fast reading does not settle for the question pending; with
``"off"`` (the embedded CPU default, by measurement) never. Both readings and their merge go on
the turn row (``policy_events``), so QA can see what each reader heard and why the agent did
what it did.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from connectors.schedule import Business
from voice_agent.dialog.follow_on import note_follow_on
from voice_agent.dialog.llm_reading import LLMReader, ReadingContext, resolve
from voice_agent.dialog.merge import Conflict, fast_reading_suffices, merge, reading_record
from voice_agent.dialog.policy import BookingPolicy
from voice_agent.dialog.service_switch import hold_unsure_service_change
from voice_agent.dialog.state import DialogState
from voice_agent.dialog.timeparse import describe_day, describe_time
from voice_agent.dialog.understanding import Understanding, understand

__all__ = ["read_turn"]


async def read_turn(
    text: str, *, agent_said: str, business: Business, today: date, state: DialogState,
    policy: BookingPolicy, reader: LLMReader | None, reading: str, events: list[dict[str, Any]],
    stt_avg_logprob: float | None = None,
) -> tuple[Understanding, list[Conflict]]:
    """The merged reading of the turn, and the disagreements the policy must ask about
    (``stt_avg_logprob``: how well the turn was heard, None in text mode)."""
    fast = understand(text, business, today, asked=state.asked)
    llm = None
    if reader is not None and (reading == "always" or (
            reading == "when_unsure" and not fast_reading_suffices(fast, state.asked))):
        context = ReadingContext(agent_said=agent_said, asked=state.asked,
                                 offered=tuple(state.offered_times),
                                 booking=_in_progress(state, today))
        raw, seconds = await reader.read(text, today, context)
        events.append({"event": "llm_reading", "seconds": round(seconds, 3),
                       "ok": raw is not None})
        if raw is not None:
            llm = resolve(raw, business, today, text)
    merged = merge(fast, llm, asked=state.asked, staff=tuple(business.staff))
    conflicts = [c for c in merged.conflicts if policy.conflict_matters(state, c)]
    hold_unsure_service_change(state, merged.understanding, stt_avg_logprob, events)
    note_follow_on(state, merged.understanding)  # "... and then a blow-dry straight after"
    events.append({
        "event": "reading", "fast": reading_record(fast),
        "llm": reading_record(llm) if llm is not None else None,
        "merged": reading_record(merged.understanding),
        "conflicts": [c.slot for c in conflicts]})
    return merged.understanding, conflicts


def _in_progress(state: DialogState, today: date) -> str:
    """The booking so far, in words, for the LLM's context."""
    parts = [state.service.name if state.service else "",
             describe_day(state.day, today) if state.day else "",
             describe_time(state.tod.exact) if state.tod and state.tod.exact else "",
             f"with {state.staff}" if state.staff else "",
             f"for {state.name}" if state.name else ""]
    return " ".join(p for p in parts if p)
