"""Alembic's environment for the turn store, run by ``voice_agent.store.migrations``.

The connection comes in through ``config.attributes["connection"]`` (already inside the
transaction that holds the migration lock); with none, ``sqlalchemy.url`` is used, and offline
(``--sql``) the SQL is written out instead of run. SQLite alters tables in batch mode.
"""

from __future__ import annotations

from typing import Any

from alembic import context

from voice_agent.store.migrations import render_item, target_metadata

config = context.config


def _configure(**kwargs: Any) -> None:
    context.configure(target_metadata=target_metadata(), compare_type=True,
                      render_item=render_item, **kwargs)


def _run(connection: Any) -> None:
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    url = config.get_main_option("sqlalchemy.url")
    _configure(url=url, literal_binds=True, render_as_batch=url.startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()
elif (connection := config.attributes.get("connection")) is not None:
    _run(connection)
else:
    from voice_agent.store.db import make_engine

    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()
