"""Adopting a database made before Alembic: tables, no ``alembic_version``.

Releases before Alembic ran ``create_all`` and then added any missing nullable column by
``ALTER TABLE`` at every start. Such a database is first completed the same way, to the frozen
schema of the revision it is closest to, then stamped there; ``upgrade`` carries on from it:

* made by the previous release (eadd1d6) or older: completed to the baseline ``0001``
  (older releases lacked some tables and nullable columns), stamped ``0001``;
* made by a build after it (any of ``0002``'s columns present): completed to ``0002``,
  stamped ``0002``.

Nothing newer can predate Alembic, so this module never needs to learn another revision.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import command
from sqlalchemy import Connection, text

from voice_agent.store.migrations import config, script_directory

__all__ = ["adopt_if_needed", "legacy_schema"]

log = logging.getLogger(__name__)
VERSION_TABLE = "alembic_version"


def legacy_schema(rev: str) -> sa.MetaData:
    """The frozen schema at ``rev`` (``0001`` or ``0002``), built from the revisions' own
    definitions."""
    scripts = script_directory()
    metadata = scripts.get_revision("0001").module.schema()
    if rev == "0002":
        for table, added in scripts.get_revision("0002").module.columns().items():
            for column in added:
                metadata.tables[table].append_column(column)
    return metadata


def adopt_if_needed(conn: Connection) -> str | None:
    """Stamp a pre-Alembic database (returns the revision), or do nothing (``None``)."""
    inspector = sa.inspect(conn)
    names = set(inspector.get_table_names())
    baseline = legacy_schema("0001")
    if VERSION_TABLE in names or not names & set(baseline.tables):
        return None  # under Alembic already, or empty (the revisions build it)
    added = script_directory().get_revision("0002").module.columns()
    have = {t: {c["name"] for c in inspector.get_columns(t)} for t in names}
    newer = any(c.name in have.get(t, ()) for t, cols in added.items() for c in cols)
    rev = "0002" if newer else "0001"
    _complete(conn, legacy_schema(rev), names, have)
    command.stamp(config(conn), rev)
    log.info("database from before Alembic adopted at revision %s", rev)
    return rev


def _complete(conn: Connection, schema: sa.MetaData, names: set[str],
              have: dict[str, set[str]]) -> None:
    """What the releases before Alembic did at start: create the missing tables, add the
    missing nullable columns."""
    for table in schema.sorted_tables:
        if table.name not in names:
            table.create(conn)
            continue
        for column in table.columns:
            if column.name in have[table.name] or not column.nullable or column.primary_key:
                continue
            kind = column.type.compile(dialect=conn.dialect)
            conn.execute(text(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}'))
