"""Shared fixtures."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

# A fixed Fernet key for tests (never used outside them).
TEST_SECRET_KEY = "bLq5d1p2Uq8Zp0wX3l6mC4bV7nR9tY2uI5oP8aS1dF0="
PG_ADMIN_URL = os.environ.get(
    "VOICE_AGENT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test (``va_test_<hex>``), dropped afterwards.

    Skips when the local server is unreachable.
    """
    admin = sa.create_engine(
        PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    name = f"va_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN_URL}: {type(exc.orig).__name__}")
    try:
        yield sa.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def make_client(tmp_path):
    """Build a TestClient on a lightweight runtime: real database and businesses, no models
    and no sidecars. ``make_client(ready=False, **settings)``; use it as a context manager."""
    from fastapi.testclient import TestClient

    from connectors.schedule import load_businesses
    from voice_agent.api.app import create_app
    from voice_agent.config import Settings
    from voice_agent.runtime.container import Runtime
    from voice_agent.store.db import make_engine, upgrade

    engines = []

    def make(*, ready: bool = True, **overrides: object) -> TestClient:
        fields = {"data_dir": tmp_path, "env": "test", "twilio_auth_token": "test-token",
                  "secret_key": TEST_SECRET_KEY}
        settings = Settings(_env_file=None, **{**fields, **overrides})
        runtime = Runtime(settings)
        runtime.engine = make_engine(f"sqlite:///{tmp_path}/t.db")
        engines.append(runtime.engine)
        upgrade(runtime.engine)
        runtime.businesses = load_businesses(settings.businesses_dir)
        runtime.ready = ready
        client = TestClient(create_app(settings, runtime=runtime))
        client.runtime = runtime  # type: ignore[attr-defined]
        return client

    yield make
    for engine in engines:
        engine.dispose()
