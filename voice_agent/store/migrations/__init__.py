"""Schema migrations for the turn store (Alembic), run from code: no ``alembic.ini``.

``upgrade(engine)`` brings any database to the newest revision: an empty one is built by the
revisions in ``versions/``, one made before Alembic (tables but no ``alembic_version``) is
adopted first (:mod:`.adopt`). The whole upgrade is one transaction under a lock, so two
workers starting together do not both migrate: PostgreSQL takes a transaction-level advisory
lock (and its DDL is transactional), SQLite a ``BEGIN IMMEDIATE`` (the write lock, waited for
up to the engine's busy timeout) with foreign keys off while tables are rebuilt and checked
before the commit. The second worker then finds the database at head and does nothing.

New revision: ``voice-agent db revision -m "what changed"`` autogenerates one against a scratch
SQLite database upgraded to head (read it, and check it on PostgreSQL too).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, text

__all__ = ["HEAD", "config", "current", "downgrade", "revision", "target_metadata", "upgrade"]

HEAD = "head"
MIGRATIONS_DIR = Path(__file__).resolve().parent
# pg_advisory_xact_lock key: a fixed 64-bit number of our own ("voice-ag" in ASCII)
PG_LOCK_KEY = int.from_bytes(b"voice-ag", "big") & 0x7FFF_FFFF_FFFF_FFFF


def target_metadata() -> MetaData:
    """What the models and the embedded calendar declare (what head must equal)."""
    from sqlmodel import SQLModel

    import connectors.sql  # noqa: F401  (the cal_* tables)
    from voice_agent.store import connector_configs, models, review  # noqa: F401  (tables)

    return SQLModel.metadata


def config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(config())


@contextlib.contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    """One connection in one transaction that no other migrator holds at the same time;
    committed when the block ends, rolled back if it raises."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
            yield conn
            conn.commit()
        elif conn.dialect.name == "sqlite":
            # Foreign keys off while batch mode rebuilds a table others refer to (the pragma
            # is ignored inside a transaction, so it comes first); checked before committing.
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise RuntimeError(f"migration left rows without their parent: {broken[:5]}")
                conn.commit()
            finally:
                conn.rollback()  # no-op after the commit
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()
        else:
            with conn.begin():
                yield conn


def upgrade(engine: Engine, revision: str = HEAD) -> None:
    """Adopt a database from before Alembic if need be, then upgrade it to ``revision``."""
    from voice_agent.store.migrations.adopt import adopt_if_needed

    with _locked(engine) as conn:
        adopt_if_needed(conn)
        command.upgrade(config(conn), revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Down to ``revision`` (e.g. ``-1``); data in dropped columns and tables is lost."""
    with _locked(engine) as conn:
        command.downgrade(config(conn), revision)


def current(engine: Engine) -> str | None:
    """The revision the database is at (``None``: not under Alembic, or empty)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def revision(message: str, *, version_path: Path | None = None) -> Path:
    """Autogenerate the next revision (``NNNN_<message>.py``, in ``versions/`` unless
    ``version_path`` says elsewhere) from the difference between the models and a scratch
    SQLite database upgraded to head; returns its path."""
    from voice_agent.store.db import make_engine

    heads = script_directory().get_heads()
    next_id = f"{max(int(h) for h in heads) + 1:04d}" if heads else "0001"
    with tempfile.TemporaryDirectory() as scratch:
        engine = make_engine(f"sqlite:///{scratch}/head.db")
        try:
            upgrade(engine)
            with engine.begin() as conn:
                cfg = config(conn)
                if version_path is not None:  # alembic writes only where it reads from
                    cfg.set_main_option("version_locations", os.pathsep.join(
                        [str(MIGRATIONS_DIR / "versions"), str(version_path)]))
                script = command.revision(cfg, message=message, autogenerate=True,
                                          rev_id=next_id, version_path=None
                                          if version_path is None else str(version_path))
        finally:
            engine.dispose()
    assert script is not None and not isinstance(script, list)
    return Path(script.path)


def render_item(kind: str, obj: Any, autogen_context: Any) -> str | bool:
    """Autogenerate writes plain SQLAlchemy types, not sqlmodel's (revisions import no models)."""
    from sqlmodel.sql.sqltypes import AutoString

    if kind == "type" and isinstance(obj, AutoString):
        return f"sa.String({obj.length or ''})"
    if kind == "type" and type(obj).__name__ == "UTCDateTime":
        return "sa.DateTime(timezone=True)"
    return False
