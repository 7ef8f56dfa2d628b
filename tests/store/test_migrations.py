"""Alembic migrations (voice_agent/store/migrations): an empty database reaches head and head
equals the models; a database of the previous release (eadd1d6, its own DDL captured in
``schemas/``) is adopted and upgraded in place with its rows; downgrade; idempotence; two
workers at once. Each on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, event, inspect, text
from sqlmodel import SQLModel

from voice_agent.store import migrations
from voice_agent.store.db import make_engine, upgrade
from voice_agent.store.migrations.adopt import adopt_if_needed

SCHEMAS = Path(__file__).parent / "schemas"
HEAD = "0002"
NEW_COLUMNS = {"turn": {"stt_segments", "agent_interrupted", "agent_text_heard"},
               "booking_intent": {"lease_owner", "lease_until"}}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    engine = make_engine(url)
    yield engine
    engine.dispose()


def schema_diff(engine: Engine) -> list:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, migrations.target_metadata())


def columns(engine: Engine, table: str) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns(table)}


def create_previous_release(engine: Engine) -> None:
    """The tables exactly as release eadd1d6's ``create_all`` made them, with a call, its
    turns, a booking intent and its review item."""
    script = (SCHEMAS / f"eadd1d6_{engine.dialect.name}.sql").read_text()
    statements = [s for s in script.split(";") if s.strip().removeprefix("--").strip()]
    with engine.begin() as conn:
        for statement in statements:
            sql = "\n".join(line for line in statement.splitlines()
                            if not line.startswith("--"))
            conn.exec_driver_sql(sql)
        conn.execute(text(
            "INSERT INTO call (id, provider, business, started_at, status, caller_phone) "
            "VALUES ('c1', 'twilio', 'demo-salon', '2026-11-23 10:00:00', 'completed', "
            "'+15550100')"))
        for i, said in enumerate(["Hi, a haircut Friday?", "Sean, S-E-A-N"]):
            conn.execute(text(
                'INSERT INTO turn (id, call_id, "index", caller_text, llm_messages, '
                "tool_calls, policy_events, created_at) VALUES (:id, 'c1', :i, :said, '[]', "
                "'[]', '[]', '2026-11-23 10:00:05')"), {"id": f"t{i}", "i": i, "said": said})
        conn.execute(text(
            "INSERT INTO booking_intent (id, idempotency_key, call_id, business, action, "
            "payload, status, attempts, created_at, updated_at) VALUES ('b1', 'k1', 'c1', "
            "'demo-salon', 'book', '{\"service\": \"haircut\"}', 'review', 0, "
            "'2026-11-23 10:01:00', '2026-11-23 10:01:00')"))
        conn.execute(text(
            "INSERT INTO review_item (id, call_id, intent_id, business, status, reason, "
            "confidence, created_at) VALUES ('r1', 'c1', 'b1', 'demo-salon', 'pending', "
            "'name unsure', '{}', '2026-11-23 10:01:00')"))


def test_an_empty_database_is_migrated_to_head_and_head_equals_the_models(
        engine: Engine) -> None:
    assert migrations.current(engine) is None
    upgrade(engine)
    assert migrations.current(engine) == HEAD
    assert schema_diff(engine) == []


def test_the_previous_release_database_is_upgraded_in_place(engine: Engine) -> None:
    create_previous_release(engine)
    assert schema_diff(engine) != []  # it really is the old schema
    upgrade(engine)
    assert migrations.current(engine) == HEAD
    for table, added in NEW_COLUMNS.items():
        assert added <= columns(engine, table)
    assert schema_diff(engine) == []
    with engine.connect() as conn:
        turns = conn.execute(text(
            'SELECT id, caller_text, stt_segments, agent_interrupted FROM turn ORDER BY "index"'
        )).all()
        intent = conn.execute(text(
            "SELECT status, payload, lease_owner, lease_until FROM booking_intent")).one()
        review = conn.execute(text("SELECT intent_id, reason FROM review_item")).one()
        phone = conn.execute(text("SELECT caller_phone FROM call WHERE id = 'c1'")).scalar()
    assert turns == [("t0", "Hi, a haircut Friday?", None, None),
                     ("t1", "Sean, S-E-A-N", None, None)]
    assert intent[0] == "review" and intent[2:] == (None, None)
    assert review == ("b1", "name unsure")
    assert phone == "+15550100"


def test_the_previous_release_database_is_stamped_at_the_baseline(engine: Engine) -> None:
    create_previous_release(engine)
    with engine.begin() as conn:
        assert adopt_if_needed(conn) == "0001"
    assert migrations.current(engine) == "0001"
    with engine.begin() as conn:
        assert adopt_if_needed(conn) is None  # under Alembic now


def test_a_database_from_create_all_of_this_build_is_adopted_at_head(engine: Engine) -> None:
    SQLModel.metadata.create_all(engine, tables=list(migrations.target_metadata().tables
                                                     .values()))
    upgrade(engine)
    assert migrations.current(engine) == HEAD
    assert schema_diff(engine) == []


def test_a_build_between_releases_is_completed_and_adopted(engine: Engine) -> None:
    """Leases already there (a build after eadd1d6), the turn columns not yet: adopted at
    0002 with the missing columns added as the releases before Alembic did."""
    create_previous_release(engine)
    with engine.begin() as conn:
        kind = sa.DateTime(timezone=True).compile(dialect=engine.dialect)
        conn.execute(text("ALTER TABLE booking_intent ADD COLUMN lease_owner VARCHAR"))
        conn.execute(text(f"ALTER TABLE booking_intent ADD COLUMN lease_until {kind}"))
    upgrade(engine)
    assert migrations.current(engine) == HEAD
    assert schema_diff(engine) == []


def test_downgrading_the_last_revision_keeps_the_rows(engine: Engine) -> None:
    create_previous_release(engine)
    upgrade(engine)
    migrations.downgrade(engine, "-1")
    assert migrations.current(engine) == "0001"
    for table, added in NEW_COLUMNS.items():
        assert not added & columns(engine, table)
    with engine.connect() as conn:  # booking_intent was rebuilt on SQLite: its review item
        assert conn.execute(text("SELECT count(*) FROM turn")).scalar() == 2
        assert conn.execute(text(
            "SELECT r.id FROM review_item r JOIN booking_intent b ON b.id = r.intent_id"
        )).scalar() == "r1"
    upgrade(engine)
    assert migrations.current(engine) == HEAD
    assert schema_diff(engine) == []


def test_a_second_upgrade_changes_nothing(engine: Engine) -> None:
    upgrade(engine)
    statements: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def record(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    upgrade(engine)
    event.remove(engine, "before_cursor_execute", record)
    ddl = [s for s in statements if s.lstrip().upper().startswith(("CREATE", "ALTER", "DROP",
                                                                    "INSERT", "UPDATE"))]
    assert ddl == []
    assert migrations.current(engine) == HEAD


def test_two_workers_starting_together_migrate_once(engine: Engine) -> None:
    create_previous_release(engine)  # adoption and a migration to race over
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker() -> None:
        own = make_engine(engine.url.render_as_string(hide_password=False))
        try:
            barrier.wait()
            upgrade(own)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert migrations.current(engine) == HEAD
    assert schema_diff(engine) == []


def test_upgrade_on_in_memory_sqlite_stays_usable() -> None:
    engine = make_engine("sqlite://")
    upgrade(engine)
    with engine.connect() as conn:  # foreign keys are back on after the migration
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert schema_diff(engine) == []
    engine.dispose()


def test_a_new_revision_of_unchanged_models_is_empty(tmp_path: Path) -> None:
    path = migrations.revision("nothing changed", version_path=tmp_path)
    assert path.name == "0003_nothing_changed.py"
    source = path.read_text()
    assert "down_revision = '0002'" in source
    assert "op." not in source.split("def upgrade")[1]
