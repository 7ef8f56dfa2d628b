"""A database made by a release older than the Alembic baseline (before Alembic) is adopted:
the tables and nullable columns it lacks are added as those releases did, then migrated."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, inspect, text

from voice_agent.store.db import make_engine, upgrade


def test_upgrade_adds_new_nullable_columns_to_an_existing_table(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = create_engine(url)
    with old.begin() as conn:  # the call table as the previous release created it
        conn.execute(text(
            'CREATE TABLE call (id VARCHAR PRIMARY KEY, provider VARCHAR NOT NULL, '
            'provider_call_id VARCHAR, stream_id VARCHAR, business VARCHAR NOT NULL, '
            'caller_phone VARCHAR, started_at DATETIME NOT NULL, ended_at DATETIME, '
            'status VARCHAR NOT NULL, end_reason VARCHAR, outcome VARCHAR, '
            'recording_path VARCHAR, prompt_version VARCHAR, clock_now DATETIME)'))
        conn.execute(text("INSERT INTO call (id, provider, business, started_at, status) "
                          "VALUES ('c1', 'twilio', 'demo-salon', '2026-11-23', 'completed')"))
    old.dispose()
    engine = make_engine(url)
    upgrade(engine)
    upgrade(engine)  # idempotent
    columns = {c["name"] for c in inspect(engine).get_columns("call")}
    assert "caller_attestation" in columns
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, caller_attestation FROM call")).all()
    assert rows == [("c1", None)]  # the old row is kept
    engine.dispose()


def test_upgrade_adds_the_lease_columns_to_an_old_outbox(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = create_engine(url)
    with old.begin() as conn:  # booking_intent before leases (and without its call table)
        conn.execute(text(
            'CREATE TABLE booking_intent (id VARCHAR PRIMARY KEY, idempotency_key VARCHAR '
            'NOT NULL UNIQUE, call_id VARCHAR, business VARCHAR NOT NULL, action VARCHAR NOT '
            'NULL, payload JSON, status VARCHAR NOT NULL, booking_id VARCHAR, error VARCHAR, '
            'attempts INTEGER NOT NULL, created_at DATETIME NOT NULL, '
            'updated_at DATETIME NOT NULL)'))
    old.dispose()
    engine = make_engine(url)
    upgrade(engine)
    columns = {c["name"] for c in inspect(engine).get_columns("booking_intent")}
    assert {"lease_owner", "lease_until"} <= columns
    engine.dispose()
