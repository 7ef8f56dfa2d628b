"""Fault matrix, mid-call rows: the LLM server, STT, the caller's line and the database fail
while DialogProcessor (real DialogManager, real SQLite store, FakeLLM over MockTransport)
answers. Checked: what the caller heard (TTSSpeakFrame) and what the database holds."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from pipecat.frames.frames import (
    EndWorkerFrame,
    TranscriptionFrame,
    TTSSpeakFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.tests.utils import SleepFrame, run_test
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from tests.dialog.test_existing_bookings import rig
from tests.dialog.test_manager import FakeLLM
from tests.pipeline.test_dialog_processor_faults import _processor, _said
from voice_agent.store.calls import CallStore
from voice_agent.store.models import BookingIntent, Turn

OPEN_LINE = "Do you sell gift cards for a friend of mine?"  # no certain step: the LLM answers


def _heard(down: list[Any]) -> list[str]:
    return [f.text for f in down if isinstance(f, TTSSpeakFrame)]


def _rows(engine: Any, model: Any) -> list[Any]:
    with Session(engine) as session:
        return list(session.exec(select(model)))


class ServerErrorLLM(FakeLLM):
    def handler(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"error": {"message": "llama.cpp crashed"}})


async def test_an_llm_answering_500_mid_reply_apologises_records_a_callback_and_ends(
        tmp_path: Path) -> None:
    async with rig(tmp_path, llm=ServerErrorLLM()) as r:
        down, _ = await run_test(_processor(r, CallStore(r.store)),
                                 frames_to_send=[*_said(OPEN_LINE)])
        turns, intents = _rows(r.store, Turn), _rows(r.store, BookingIntent)
    heard = _heard(down)
    assert heard and "sorry" in " ".join(heard).lower(), heard
    assert any(isinstance(f, EndWorkerFrame) for f in down)
    [turn] = turns
    assert turn.policy_events[0]["event"] == "llm_unavailable" and turn.agent_text
    assert [i.payload["why"] for i in intents if i.action == "callback"] == ["llm unavailable"]


class HangingLLM(FakeLLM):
    async def handler(self, request: httpx.Request) -> httpx.Response:  # type: ignore[override]
        await asyncio.sleep(30)
        raise AssertionError("not reached")


async def test_an_llm_hanging_past_the_reply_budget_gets_the_clarifying_question(
        tmp_path: Path) -> None:
    async with rig(tmp_path, llm=HangingLLM()) as r:
        r.manager.client.options = type(r.manager.client.options)(
            model="test-model", reply_budget_s=0.3)
        down, _ = await run_test(_processor(r, CallStore(r.store)),
                                 frames_to_send=[*_said(OPEN_LINE)])
        turns = _rows(r.store, Turn)
    heard = _heard(down)
    assert heard and heard[-1].endswith("?"), heard  # a question, and the call goes on
    assert not any(isinstance(f, EndWorkerFrame) for f in down)
    [turn] = turns
    assert {"event": "llm_reply_timeout", "budget_s": 0.3} in turn.policy_events


async def test_a_failed_transcription_does_not_stall_the_turn_and_asks_again(
        tmp_path: Path) -> None:
    failed = TranscriptionFrame("", "caller", "now", result={"error": "RuntimeError"})
    async with rig(tmp_path) as r:
        down, _ = await run_test(_processor(r, CallStore(r.store)), frames_to_send=[
            VADUserStartedSpeakingFrame(), SleepFrame(0.05), VADUserStoppedSpeakingFrame(),
            SleepFrame(0.05), failed, SleepFrame(1.5),
            *_said("Hi, I'd like to book a haircut.")])
        turns = _rows(r.store, Turn)
    heard = _heard(down)
    assert len(heard) >= 2, heard  # the empty turn got an answer, then the next one did
    assert "haircut" in " ".join(heard[1:]).lower(), heard
    assert [t.caller_text for t in sorted(turns, key=lambda t: t.index)][-1] == (
        "Hi, I'd like to book a haircut.")


class DroppedConnectionOnce(CallStore):
    """The database connection drops once (as when PostgreSQL restarts): the first turn's
    write raises OperationalError, every later write goes through."""

    failures = 0

    async def save_turn(self, turn: Turn) -> Turn:
        if DroppedConnectionOnce.failures == 0:
            DroppedConnectionOnce.failures += 1
            self._engine_for_test.dispose()  # the pool's connections are gone too
            raise OperationalError("INSERT INTO turn", {}, Exception("server closed the "
                                                                     "connection unexpectedly"))
        return await super().save_turn(turn)


async def test_a_dropped_database_connection_does_not_stop_the_call(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        store = DroppedConnectionOnce(r.store)
        store._engine_for_test = r.store  # type: ignore[attr-defined]
        down, _ = await run_test(_processor(r, store), frames_to_send=[
            *_said("Hi, I'd like to book a haircut."), *_said("Next Tuesday at 3 pm.")])
        turns = _rows(r.store, Turn)
    heard = _heard(down)
    assert len(heard) >= 2 and any("name" in s.lower() for s in heard), heard
    assert DroppedConnectionOnce.failures == 1
    assert "Next Tuesday at 3 pm." in {t.caller_text for t in turns}
