"""evals.export and `voice-agent eval export`: stored calls become call scripts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from connectors.schedule import load_businesses
from evals.export import REDACTED_NAME, REDACTED_PHONE, ExportError, dump_script, export_call
from evals.script import load_script
from voice_agent.cli import app
from voice_agent.config import DEFAULT_BUSINESSES_DIR
from voice_agent.store.db import make_engine, upgrade
from voice_agent.store.models import BookingIntent, Call, Turn

BUSINESSES = load_businesses(DEFAULT_BUSINESSES_DIR)
PHONE = "+15551230001"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[tuple[Engine, str]]:
    url = f"sqlite:///{tmp_path}/calls.db"
    engine = make_engine(url)
    upgrade(engine)
    yield engine, url
    engine.dispose()


def add_call(engine: Engine, lines: list[tuple[str, str]], *, intents: list[dict[str, Any]] = (),
             tool_calls: dict[int, list[dict[str, Any]]] | None = None, **fields: Any) -> str:
    with Session(engine, expire_on_commit=False) as s:
        call = Call(business="demo-salon", caller_phone=PHONE, **fields)
        s.add(call)
        s.commit()
        for i, (caller, agent) in enumerate(lines):
            s.add(Turn(call_id=call.id, index=i, caller_text=caller, agent_text=agent,
                       tool_calls=(tool_calls or {}).get(i, [])))
        for n, intent in enumerate(intents):
            s.add(BookingIntent(idempotency_key=f"{call.id}-{n}", call_id=call.id,
                                business="demo-salon", **intent))
        s.commit()
        return call.id


BOOKED_LINES = [
    ("Hi, I'd like a haircut next Tuesday at 3.", "Tuesday at 3 pm is free. What's your name?"),
    ("Dana Smith.", "Thanks Dana. Shall I book a haircut on Tuesday at 3 pm?"),
    ("Yes please. You can also reach me on 555 123 0001.", "Booked. Anything else?"),
    ("", None),  # silence: no caller line
    ("No, thanks Dana Smith signing off.", "Goodbye!"),
]
BOOK = {"action": "book", "status": "done", "payload": {
    "service": "haircut", "start": "2026-12-01T15:00:00-05:00", "name": "Dana Smith",
    "phone": PHONE}}


def booked_call(engine: Engine) -> str:
    return add_call(engine, BOOKED_LINES, outcome="booked",
                    clock_now=datetime(2026, 11, 23, 14, 0, tzinfo=UTC),
                    intents=[{**BOOK, "status": "failed", "payload": {**BOOK["payload"],
                              "start": "2026-12-01T14:00:00-05:00"}}, BOOK])


def roundtrip(tmp_path: Path, script: dict[str, Any]):
    path = tmp_path / f"{script['id']}.yaml"
    path.write_text(dump_script(script))
    return load_script(path), path.read_text()


def test_booked_call(db, tmp_path: Path) -> None:
    engine, _ = db
    call_id = booked_call(engine)
    script, _ = roundtrip(tmp_path, export_call(engine, call_id, businesses=BUSINESSES))
    assert script.business == "demo-salon"
    assert script.now.isoformat() == "2026-11-23T09:00:00-05:00"  # clock_now, salon timezone
    assert script.caller.phone == PHONE
    assert script.caller.facts == {"name": "Dana Smith"}
    says = [t.say for t in script.caller.turns]
    assert says == [line for line, _ in BOOKED_LINES if line]
    assert [t.if_asked for t in script.caller.turns] == [None, "name", "confirm", None]
    assert script.expect.outcome == "booked"
    b = script.expect.booking
    assert (b.service, b.start.isoformat(), b.name, b.phone) == (
        "haircut", "2026-12-01T15:00:00-05:00", "Dana Smith", PHONE)  # the done intent only


def test_redact_replaces_name_and_phone_everywhere(db, tmp_path: Path) -> None:
    engine, _ = db
    call_id = booked_call(engine)
    script, text = roundtrip(tmp_path, export_call(engine, call_id, businesses=BUSINESSES,
                                                   redact=True))
    for secret in ("Dana", "Smith", "1230001", "123 0001"):
        assert secret not in text
    assert script.caller.phone == REDACTED_PHONE
    assert script.caller.facts["name"] == REDACTED_NAME
    assert script.expect.booking.name == REDACTED_NAME
    assert script.expect.booking.phone == REDACTED_PHONE
    says = [t.say for t in script.caller.turns]
    assert says[1] == "Caller Name."
    assert says[2] == f"Yes please. You can also reach me on {REDACTED_PHONE}."
    assert says[3] == "No, thanks Caller Name signing off."


def test_no_booking_uses_started_at(db, tmp_path: Path) -> None:
    engine, _ = db
    call_id = add_call(engine, [("Do you do massages?", "Sorry, we don't."), ("Ok bye.", "Bye")],
                       started_at=datetime(2026, 7, 1, 16, 30, tzinfo=UTC))
    script, _ = roundtrip(tmp_path, export_call(engine, call_id[:10], businesses=BUSINESSES))
    assert script.now.isoformat() == "2026-07-01T12:30:00-04:00"  # EDT in July
    assert script.expect.outcome == "no_booking" and script.expect.booking is None


def test_rescheduled_call_expects_the_move(db, tmp_path: Path) -> None:
    engine, _ = db
    found = [{"name": "find_my_appointments", "status": "executed", "source": "policy",
              "arguments": {"phone": PHONE},
              "result": [{"id": "bk1", "service": "color", "start": "2026-12-03T15:00:00-05:00"}]}]
    call_id = add_call(
        engine, [("I need to move my colour appointment.", "I found it. When instead?"),
                 ("Friday at 10.", "Moved to Friday at 10.")],
        outcome="rescheduled", clock_now=datetime(2026, 11, 30, 14, 0, tzinfo=UTC),
        tool_calls={0: found}, intents=[{"action": "reschedule", "status": "done", "payload": {
            "booking_id": "bk1", "new_start": "2026-12-04T10:00:00-05:00"}}])
    script, _ = roundtrip(tmp_path, export_call(engine, call_id, businesses=BUSINESSES))
    assert script.expect.outcome == "rescheduled"
    assert script.expect.booking.service == "color"
    assert script.expect.booking.start.isoformat() == "2026-12-04T10:00:00-05:00"
    assert script.expect.cancelled.start.isoformat() == "2026-12-03T15:00:00-05:00"
    assert [(e.service, e.phone) for e in script.calendar] == [("color", PHONE)]


def test_unexportable_calls(db) -> None:
    engine, _ = db
    with pytest.raises(ExportError, match="no call"):
        export_call(engine, "nope")
    silent = add_call(engine, [("", "Hello?")])
    with pytest.raises(ExportError, match="no caller lines"):
        export_call(engine, silent)
    pending = add_call(engine, [("Book me in.", "Done")], outcome="booked",
                       intents=[{**BOOK, "status": "pending"}])
    with pytest.raises(ExportError, match="no completed booking"):
        export_call(engine, pending)


def test_cli_export(db, tmp_path: Path) -> None:
    engine, url = db
    call_id = booked_call(engine)
    out = tmp_path / "scripts" / "exported.yaml"
    runner = CliRunner()
    res = runner.invoke(app, ["eval", "export", call_id, "--database-url", url, "--redact",
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert load_script(out).caller.phone == REDACTED_PHONE
    res = runner.invoke(app, ["eval", "export", call_id, "--database-url", url])
    assert res.exit_code == 0
    assert yaml.safe_load(res.stdout)["caller"]["facts"]["name"] == "Dana Smith"
    res = runner.invoke(app, ["eval", "export", "missing", "--database-url", url])
    assert res.exit_code == 1 and "cannot export" in res.output
