"""CallStore and Outbox on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from voice_agent.booking.outbox import Outbox
from voice_agent.store.calls import CallStore
from voice_agent.store.db import make_engine, upgrade
from voice_agent.store.models import BookingIntent, Call, Turn


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request, tmp_path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/store.db"
    else:
        url = request.getfixturevalue("pg_url")
    eng = make_engine(url)
    upgrade(eng)
    upgrade(eng)  # idempotent
    yield eng
    eng.dispose()


@pytest.fixture
def store(engine: Engine) -> CallStore:
    return CallStore(engine)


def count(engine: Engine, model: type) -> int:
    with Session(engine) as session:
        return len(list(session.exec(select(model))))


def as_utc(value: datetime) -> datetime:
    """SQLite hands datetimes back naive (stored as UTC); PostgreSQL keeps them aware."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def test_call_lifecycle(store: CallStore) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    call = await store.create_call(business="demo-salon", provider_call_id="CA1",
                                   stream_id="MZ1", caller_phone="+14155550123")
    assert call.status == "in_progress" and len(call.id) == 32

    updated = await store.update_call(call.id, outcome="booked", prompt_version="v3")
    assert updated.outcome == "booked"

    finished = await store.finish_call(call.id, status="completed", reason="caller_hung_up")
    assert finished.ended_at is not None

    stored = store.get_call(call.id)
    assert stored is not None
    assert (stored.status, stored.end_reason, stored.outcome, stored.prompt_version) == (
        "completed", "caller_hung_up", "booked", "v3")
    assert stored.caller_phone == "+14155550123"
    assert before <= as_utc(stored.started_at) <= as_utc(stored.ended_at)
    assert as_utc(stored.ended_at) <= datetime.now(UTC) + timedelta(seconds=1)
    assert store.find_call("CA1").id == call.id
    assert store.find_call("CA-unknown") is None


async def test_update_unknown_call_raises(store: CallStore) -> None:
    with pytest.raises(KeyError):
        await store.update_call("missing", status="failed")


async def test_save_turn_twice_updates_one_row(store: CallStore, engine: Engine) -> None:
    call = await store.create_call(business="demo-salon")
    turn = Turn(call_id=call.id, index=0, caller_text="I'd like a haircut",
                stt_avg_logprob=-0.3, speech_end_ts=1000.0)
    await store.save_turn(turn)
    turn.agent_text = "Sure, which day?"
    turn.tool_calls = [{"name": "list_slots", "arguments": {"day": "2026-12-05"}}]
    turn.first_audio_sent_ts = 1000.9
    await store.save_turn(turn)

    assert count(engine, Turn) == 1
    [stored] = store.turns(call.id)
    assert stored.id == turn.id
    assert stored.caller_text == "I'd like a haircut"
    assert stored.agent_text == "Sure, which day?"
    assert stored.tool_calls == [{"name": "list_slots", "arguments": {"day": "2026-12-05"}}]
    assert stored.first_audio_sent_ts - stored.speech_end_ts == pytest.approx(0.9)


async def test_turns_are_ordered_by_index(store: CallStore) -> None:
    call = await store.create_call(business="demo-salon")
    other = await store.create_call(business="demo-dental")
    for index in (2, 0, 1):
        await store.save_turn(Turn(call_id=call.id, index=index, caller_text=f"t{index}"))
    await store.save_turn(Turn(call_id=other.id, index=0, caller_text="other"))
    assert [t.caller_text for t in store.turns(call.id)] == ["t0", "t1", "t2"]
    assert [t.caller_text for t in store.turns(other.id)] == ["other"]
    assert store.turns("missing") == []


async def test_turn_index_is_unique_per_call(store: CallStore, engine: Engine) -> None:
    call = await store.create_call(business="demo-salon")
    await store.save_turn(Turn(call_id=call.id, index=0, caller_text="first"))
    with pytest.raises(IntegrityError):
        await store.save_turn(Turn(call_id=call.id, index=0, caller_text="duplicate"))
    assert [t.caller_text for t in store.turns(call.id)] == ["first"]
    assert count(engine, Turn) == 1


async def test_turn_needs_an_existing_call(store: CallStore) -> None:
    with pytest.raises(IntegrityError):
        await store.save_turn(Turn(call_id="no-such-call", index=0))


async def test_concurrent_turn_saves(store: CallStore) -> None:
    call = await store.create_call(business="demo-salon")
    await asyncio.gather(*(store.save_turn(Turn(call_id=call.id, index=i)) for i in range(10)))
    assert [t.index for t in store.turns(call.id)] == list(range(10))


async def test_outbox_records_then_finishes(store: CallStore, engine: Engine) -> None:
    call = await store.create_call(business="demo-salon")
    outbox = Outbox(engine)
    payload = {"service": "haircut", "start": "2026-12-05T10:00:00-05:00", "name": "Ann"}
    first = await outbox.record(business="demo-salon", call_id=call.id, action="book",
                                payload=payload)
    second = await outbox.record(business="demo-salon", call_id=None, action="cancel",
                                 payload={})
    assert first.status == "pending" and first.attempts == 0
    assert first.idempotency_key.startswith("va-")
    assert first.idempotency_key != second.idempotency_key

    with Session(engine) as session:
        pending = session.get(BookingIntent, first.id)
        assert pending is not None
        assert (pending.status, pending.payload, pending.call_id) == ("pending", payload, call.id)

    done = await outbox.finish(first, status="done", booking_id="bk-42")
    assert (done.status, done.booking_id, done.attempts) == ("done", "bk-42", 1)

    with Session(engine) as session:
        stored = session.get(BookingIntent, first.id)
        assert (stored.status, stored.booking_id, stored.attempts, stored.error) == (
            "done", "bk-42", 1, None)
        assert stored.idempotency_key == first.idempotency_key
        assert as_utc(stored.updated_at) >= as_utc(stored.created_at)
    assert count(engine, BookingIntent) == 2


async def test_outbox_failure_keeps_the_error(engine: Engine) -> None:
    outbox = Outbox(engine)
    intent = await outbox.record(business="demo-salon", call_id=None, action="book",
                                 payload={"x": 1})
    failed = await outbox.finish(intent, status="failed", error="calendar timeout")
    again = await outbox.finish(failed, status="review", error="still down")
    assert again.attempts == 2
    with Session(engine) as session:
        stored = session.get(BookingIntent, intent.id)
        assert (stored.status, stored.error, stored.attempts) == ("review", "still down", 2)


async def test_idempotency_key_is_unique(engine: Engine) -> None:
    with Session(engine) as session:
        session.add(BookingIntent(idempotency_key="va-same", business="demo-salon"))
        session.commit()
    with Session(engine) as session, pytest.raises(IntegrityError):
        session.add(BookingIntent(idempotency_key="va-same", business="demo-salon"))
        session.commit()


def test_schema_has_the_expected_tables(engine: Engine) -> None:
    tables = set(sa.inspect(engine).get_table_names())
    assert {"call", "turn", "booking_intent"} <= tables
    with Session(engine) as session:
        assert list(session.exec(select(Call))) == []
