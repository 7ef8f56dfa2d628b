"""Connector operation latency: the builtin calendar (SQLite, PostgreSQL) and CalDAV against a
real Radicale server started here, each through the production resilience layer.

For every connector: N availability queries (one day), N bookings (distinct slots, then the same
keys again: idempotent repeats), N lookups by phone, N reschedules and N cancels; prints p50 /
p95 / p99 per operation in milliseconds.

    .venv/bin/python benchmarks/connector_latency.py [--n 40] [--pg URL]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from connectors.builtin import BuiltinCalendar, create_calendar_tables, make_engine
from connectors.caldav import CalDavCalendar, CalDavSecrets, CalDavSettings
from connectors.resilience import ResilientConnector
from connectors.schedule import load_business
from voice_agent.config import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT))  # the tests' Radicale launcher

SALON = load_business(REPO_ROOT / "businesses" / "demo-salon.yaml")
OPS = ("list_free_slots", "book", "book (repeat key)", "find_bookings", "reschedule", "cancel")


def pct(values: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(values, n=100, method="inclusive")
    return q[49], q[94], q[98]


def starts(n: int) -> list[datetime]:
    """n distinct bookable haircut starts for Maria on the weekdays ahead (30 min grid)."""
    out: list[datetime] = []
    day = datetime.now(SALON.tz).date() + timedelta(days=1)
    while len(out) < n:
        out += SALON.candidate_starts("haircut", day)[: n - len(out)]
        day += timedelta(days=1)
    return out


async def timed(samples: dict[str, list[float]], op: str,
                call: Callable[[], Awaitable[Any]]) -> Any:
    t0 = time.perf_counter()
    result = await call()
    samples[op].append((time.perf_counter() - t0) * 1000)
    return result


async def exercise(connector: Any, n: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {op: [] for op in OPS}
    slots = starts(2 * n)
    keys = [uuid.uuid4().hex for _ in range(n)]
    for i in range(n):
        day = slots[i].replace(hour=0, minute=0)
        await timed(samples, "list_free_slots", lambda d=day: connector.list_free_slots(
            service="haircut", start=d, end=d + timedelta(days=1)))
    booked = []
    for i in range(n):
        booked.append(await timed(samples, "book", lambda i=i: connector.book(
            service="haircut", start=slots[i], name=f"Bench Caller {i}",
            phone=f"+1555{i:07}", staff="Maria", idempotency_key=keys[i])))
    for i in range(n):
        await timed(samples, "book (repeat key)", lambda i=i: connector.book(
            service="haircut", start=slots[i], name=f"Bench Caller {i}",
            phone=f"+1555{i:07}", staff="Maria", idempotency_key=keys[i]))
    for i in range(n):
        await timed(samples, "find_bookings", lambda i=i: connector.find_bookings(
            phone=f"+1555{i:07}"))
    for i, b in enumerate(booked):
        await timed(samples, "reschedule", lambda b=b, i=i: connector.reschedule(
            b.id, slots[n + i]))
    for b in booked:
        await timed(samples, "cancel", lambda b=b: connector.cancel(b.id))
    return samples


def report(console: Console, name: str, samples: dict[str, list[float]]) -> None:
    table = Table("operation", "n", "p50 ms", "p95 ms", "p99 ms", title=name)
    for op, values in samples.items():
        p50, p95, p99 = pct(values)
        table.add_row(op, str(len(values)), f"{p50:.1f}", f"{p95:.1f}", f"{p99:.1f}")
    console.print(table)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--pg", default=None, help="a PostgreSQL URL to include (optional)")
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        targets: list[tuple[str, str]] = [("builtin / SQLite", f"sqlite:///{tmp}/bench.db")]
        if args.pg:
            targets.append(("builtin / PostgreSQL", args.pg))
        for name, url in targets:
            engine = make_engine(url)
            create_calendar_tables(engine)
            conn = ResilientConnector(BuiltinCalendar(business=SALON, engine=engine),
                                      kind="builtin")
            report(console, name, await exercise(conn, args.n))
            engine.dispose()

        from tests.connectors.radicale_server import radicale_server

        with radicale_server(Path(tmp)) as radicale:
            calendars = {"Maria": radicale.make_calendar("maria"),
                         "Tom": radicale.make_calendar("tom")}
            inner = CalDavCalendar(
                business=SALON,
                settings=CalDavSettings(staff_calendars=calendars, username=radicale.user),
                secrets=CalDavSecrets(password=radicale.password))
            try:
                report(console, "caldav / Radicale 3.9 (local process)",
                       await exercise(ResilientConnector(inner, kind="caldav"), args.n))
            finally:
                await inner.aclose()


if __name__ == "__main__":
    asyncio.run(main())
