"""Engine creation and schema management for the turn store."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlmodel import Session

from connectors.sql import make_engine as _make_engine
from voice_agent.store import connector_configs, models, review  # noqa: F401  (tables)
from voice_agent.store.private_files import private_dir, private_file


def _jsonable(value: Any) -> Any:
    """What ``json.dumps`` cannot write by itself, as the turn log stores it: dates and times
    in ISO 8601, enums by value, dataclasses and sets as plain data. A turn's policy events
    carry what the readers understood (a ``date`` for "Friday afternoon"); without this the
    whole turn failed to store and the agent never spoke its reply."""
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return repr(value)  # never lose a turn over one odd value


def dumps_json(value: Any) -> str:
    return json.dumps(value, default=_jsonable)


def make_engine(url: str) -> Engine:
    """An engine for any SQLAlchemy URL (the calendar's engine factory: WAL and a busy
    timeout for SQLite, psycopg 3 for PostgreSQL, parameters hidden from errors); a SQLite
    file is created first, 0600 (its folder, when missing, 0700). JSON columns take any value
    a turn log holds (``dumps_json``)."""
    parsed = make_url(url)
    database = parsed.database
    if (parsed.get_backend_name() == "sqlite" and database not in (None, "", ":memory:")
            and not database.startswith("file:")):
        path = Path(database)
        if not path.parent.exists():
            private_dir(path.parent)
        private_file(path)  # SQLite gives its -wal / -shm / -journal files the same mode
    return _make_engine(url, json_serializer=dumps_json)


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest schema revision (Alembic, ``voice_agent.store.
    migrations``): an empty one is created, one from before Alembic is adopted first; safe to
    run from several workers at once, and a no-op when already there."""
    from voice_agent.store.migrations import upgrade as upgrade_to_head

    upgrade_to_head(engine)


def session(engine: Engine) -> Session:
    return Session(engine, expire_on_commit=False)
