"""Storage for the embedded calendar: the ``cal_*`` tables and an engine factory for SQLite
files (WAL) or PostgreSQL via psycopg 3."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Engine, UniqueConstraint, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool
from sqlmodel import Field, SQLModel

__all__ = ["CalAppointment", "CalStaffCell", "create_calendar_tables", "make_engine"]

SQLITE_BUSY_TIMEOUT_MS = 10_000
# Naive UTC on purpose (spelled out: recent sqlmodel maps ``datetime`` to an aware type).
NAIVE_UTC = DateTime(timezone=False)


class CalAppointment(SQLModel, table=True):
    __tablename__ = "cal_appointment"
    __table_args__ = (
        UniqueConstraint("business", "idempotency_key", name="uq_cal_appointment_idempotency"),
    )

    id: str = Field(primary_key=True, max_length=36)
    business: str = Field(index=True, max_length=100)
    service: str = Field(max_length=100)
    staff: str = Field(max_length=200)
    start_utc: datetime = Field(sa_type=NAIVE_UTC, index=True)
    end_utc: datetime = Field(sa_type=NAIVE_UTC)
    name: str = Field(max_length=200)
    phone: str = Field(index=True, max_length=50)
    status: str = Field(default="booked", max_length=20)  # booked | cancelled
    idempotency_key: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(sa_type=NAIVE_UTC)
    updated_at: datetime = Field(sa_type=NAIVE_UTC)


class CalStaffCell(SQLModel, table=True):
    __tablename__ = "cal_staff_cell"
    __table_args__ = (
        UniqueConstraint("business", "staff", "cell_start_utc", name="uq_cal_staff_cell"),
    )

    id: int | None = Field(default=None, primary_key=True)
    business: str = Field(max_length=100)
    staff: str = Field(max_length=200)
    cell_start_utc: datetime = Field(sa_type=NAIVE_UTC)
    appointment_id: str = Field(foreign_key="cal_appointment.id", index=True, ondelete="CASCADE")


def create_calendar_tables(engine: Engine) -> None:
    tables = [CalAppointment.__table__, CalStaffCell.__table__]
    SQLModel.metadata.create_all(engine, tables=tables)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; extra keyword arguments go to :func:`sqlalchemy.create_engine`.

    SQLite gets WAL, a busy timeout and enforced foreign keys on every connection and may be
    used from worker threads. A bare ``postgresql://`` URL uses psycopg 3. Bound parameters are
    hidden from error messages, which could otherwise leak callers' names and phone numbers.
    """
    parsed = make_url(url)
    kwargs.setdefault("hide_parameters", True)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(parsed, **kwargs)

    in_memory = parsed.database in (None, "", ":memory:")
    connect_args = {"check_same_thread": False, **kwargs.pop("connect_args", {})}
    if in_memory:  # one shared connection, otherwise every thread would see its own database
        kwargs.setdefault("poolclass", StaticPool)
    engine = create_engine(parsed, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    return engine
