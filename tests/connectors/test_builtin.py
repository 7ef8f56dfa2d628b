import asyncio
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from connectors.base import (
    BookingNotFoundError,
    Capability,
    Connector,
    ConnectorError,
    InvalidRequestError,
    SlotUnavailableError,
)
from connectors.builtin import (
    BuiltinCalendar,
    CalAppointment,
    CalStaffCell,
    cell_minutes,
    create_calendar_tables,
    make_engine,
)
from connectors.schedule import Business, load_business
from voice_agent.config import DEFAULT_BUSINESSES_DIR

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
PG_ADMIN_URL = os.environ.get(
    "VOICE_AGENT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def sat(hour: int, minute: int = 0) -> datetime:
    """Saturday 2026-12-05 at the salon (open 10:00-16:00)."""
    return datetime(2026, 12, 5, hour, minute, tzinfo=NY)


def fri_dental(hour: int, minute: int = 0) -> datetime:
    """Friday 2026-12-04 at the dentist (open 08:30-13:00)."""
    return datetime(2026, 12, 4, hour, minute, tzinfo=LONDON)


def key() -> str:
    return uuid.uuid4().hex


@pytest.fixture(scope="module")
def salon() -> Business:
    return load_business(DEFAULT_BUSINESSES_DIR / "demo-salon.yaml")


@pytest.fixture(scope="module")
def dental() -> Business:
    return load_business(DEFAULT_BUSINESSES_DIR / "demo-dental.yaml")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'calendar.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    engine = make_engine(url)
    create_calendar_tables(engine)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def cal(engine: sa.Engine, salon: Business) -> BuiltinCalendar:
    return BuiltinCalendar(business=salon, engine=engine)


@pytest.fixture
def dental_cal(engine: sa.Engine, dental: Business) -> BuiltinCalendar:
    return BuiltinCalendar(business=dental, engine=engine)


def count(engine: sa.Engine, model: type, **where: object) -> int:
    stmt = sa.select(sa.func.count()).select_from(model)
    for column, value in where.items():
        stmt = stmt.where(getattr(model, column) == value)
    with engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


# -- contract ------------------------------------------------------------------------------------


async def test_is_a_connector(cal: BuiltinCalendar) -> None:
    assert isinstance(cal, Connector)
    assert cal.capabilities == frozenset(Capability)
    await cal.health_check()


async def test_health_check_fails_without_database(tmp_path: Path, salon: Business) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'missing' / 'calendar.db'}")
    try:
        with pytest.raises(ConnectorError) as info:
            await BuiltinCalendar(business=salon, engine=engine).health_check()
        assert info.value.retryable
    finally:
        engine.dispose()


def test_make_engine_sqlite_pragmas(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()
    pg = make_engine("postgresql://u@localhost/db")
    assert pg.url.drivername == "postgresql+psycopg"
    pg.dispose()


def test_cell_size(salon: Business, dental: Business) -> None:
    assert cell_minutes(salon) == 30
    assert cell_minutes(dental) == 15


# -- availability --------------------------------------------------------------------------------


async def test_free_slots_empty_calendar(cal: BuiltinCalendar) -> None:
    slots = await cal.list_free_slots(service="color", start=sat(0), end=sat(23))
    assert [s.start for s in slots] == [
        sat(10).replace(hour=10 + i // 2, minute=30 * (i % 2)) for i in range(10)
    ]
    assert slots[-1].start == sat(14, 30) and slots[-1].end == sat(16)
    assert all(s.staff == "Maria" and s.start.tzinfo == NY for s in slots)


async def test_free_slots_with_seeded_bookings(cal: BuiltinCalendar) -> None:
    await cal.seed(
        [
            {
                "service": "haircut",
                "start": "2026-12-05T11:00:00-05:00",
                "name": "A",
                "phone": "+15550000001",
                "staff": "Maria",
            },
            {
                "service": "haircut",
                "start": sat(11),
                "name": "B",
                "phone": "+15550000002",
                "staff": "Tom",
            },
            {"service": "haircut", "start": sat(12), "name": "C", "phone": "+15550000003"},
        ]
    )
    colour = await cal.list_free_slots(service="color", start=sat(0), end=sat(23))
    assert [s.start for s in colour][:2] == [sat(11, 30), sat(12)]
    assert sat(10) not in {s.start for s in colour}  # 10:00-11:30 overlaps both 11:00 bookings
    cuts = {
        s.start: s.staff
        for s in await cal.list_free_slots(service="haircut", start=sat(10), end=sat(16))
    }
    assert sat(11) not in cuts
    assert cuts[sat(12)] == "Tom"  # Maria took the seeded 12:00
    assert cuts[sat(10)] == "Maria"


async def test_free_slots_window_bounds(cal: BuiltinCalendar) -> None:
    later = await cal.list_free_slots(service="haircut", start=sat(12, 10), end=sat(13, 30))
    assert [s.start for s in later] == [sat(12, 30), sat(13)]
    # Friday 19:00 to Saturday 11:00, asked in UTC: evening slots then the Saturday morning.
    span = await cal.list_free_slots(
        service="haircut",
        start=datetime(2026, 12, 4, 19, tzinfo=NY).astimezone(UTC),
        end=sat(11).astimezone(UTC),
    )
    assert [s.start for s in span] == [
        datetime(2026, 12, 4, 19, tzinfo=NY),
        datetime(2026, 12, 4, 19, 30, tzinfo=NY),
        sat(10),
        sat(10, 30),
    ]
    assert await cal.list_free_slots(service="haircut", start=sat(16), end=sat(23)) == []


async def test_dental_friday_slots(dental_cal: BuiltinCalendar) -> None:
    slots = await dental_cal.list_free_slots(
        service="cleaning", start=fri_dental(0), end=fri_dental(23)
    )
    assert slots[0].start == fri_dental(8, 30) and slots[-1].start == fri_dental(12, 15)
    assert slots[0].staff == "Dr Patel"
    with pytest.raises(SlotUnavailableError, match="closing"):
        await dental_cal.book(
            service="cleaning",
            start=fri_dental(12, 30),
            name="N",
            phone="+447700900000",
            idempotency_key=key(),
        )


# -- booking -------------------------------------------------------------------------------------


async def test_two_staff_share_a_start_third_fails(cal: BuiltinCalendar) -> None:
    first = await cal.book(
        service="haircut",
        start=sat(10),
        name="Dana Smith",
        phone="+1 555-123-0001",
        idempotency_key=key(),
    )
    second = await cal.book(
        service="haircut", start=sat(10), name="Eve", phone="+15551230002", idempotency_key=key()
    )
    assert (first.staff, second.staff) == ("Maria", "Tom")
    assert first.start == sat(10) and first.end == sat(10, 30) and first.start.tzinfo == NY
    assert first.status == "booked" and first.phone == "+15551230001"
    with pytest.raises(SlotUnavailableError) as info:
        await cal.book(
            service="haircut",
            start=sat(10),
            name="Fay",
            phone="+15551230003",
            idempotency_key=key(),
        )
    assert not info.value.retryable
    slots = await cal.list_free_slots(service="haircut", start=sat(10), end=sat(11))
    assert [s.start for s in slots] == [sat(10, 30)]


async def test_overlapping_booking_rejected_for_same_staff(
    cal: BuiltinCalendar, dental_cal: BuiltinCalendar
) -> None:
    await cal.book(
        service="color", start=sat(10), name="A", phone="1", staff="Maria", idempotency_key=key()
    )
    with pytest.raises(SlotUnavailableError, match="Maria is already booked"):
        await cal.book(
            service="haircut",
            start=sat(11),
            name="B",
            phone="2",
            staff="maria",
            idempotency_key=key(),
        )
    other = await cal.book(
        service="haircut", start=sat(11), name="B", phone="2", idempotency_key=key()
    )
    assert other.staff == "Tom"
    adjacent = await cal.book(
        service="haircut",
        start=sat(11, 30),
        name="C",
        phone="3",
        staff="Maria",
        idempotency_key=key(),
    )
    assert adjacent.staff == "Maria"

    await dental_cal.book(
        service="cleaning",
        start=fri_dental(8, 30),
        name="D",
        phone="4",
        staff="Dr Patel",
        idempotency_key=key(),
    )
    with pytest.raises(SlotUnavailableError):
        await dental_cal.book(
            service="checkup",
            start=fri_dental(9),
            name="E",
            phone="5",
            staff="Dr Patel",
            idempotency_key=key(),
        )
    await dental_cal.book(
        service="checkup",
        start=fri_dental(9, 15),
        name="E",
        phone="5",
        staff="Dr Patel",
        idempotency_key=key(),
    )


async def test_idempotency_key_returns_same_booking(
    cal: BuiltinCalendar, engine: sa.Engine
) -> None:
    k = key()
    first = await cal.book(service="haircut", start=sat(10), name="A", phone="1", idempotency_key=k)
    again = await cal.book(service="haircut", start=sat(10), name="A", phone="1", idempotency_key=k)
    different = await cal.book(
        service="haircut", start=sat(13), name="A", phone="1", idempotency_key=k
    )
    assert again == first and different == first
    assert count(engine, CalAppointment) == 1
    assert count(engine, CalStaffCell) == 1


@pytest.mark.parametrize(
    ("start", "service", "reason"),
    [
        (datetime(2026, 12, 6, 12, tzinfo=NY), "haircut", "closed on Sundays"),
        (sat(9, 30), "haircut", "opens at 10:00"),
        (sat(15), "color", "after closing"),
        (sat(10, 15), "haircut", "every 30 minutes"),
    ],
)
async def test_out_of_hours_rejected(
    cal: BuiltinCalendar, engine: sa.Engine, start: datetime, service: str, reason: str
) -> None:
    with pytest.raises(SlotUnavailableError, match=reason):
        await cal.book(service=service, start=start, name="A", phone="1", idempotency_key=key())
    assert count(engine, CalAppointment) == 0


async def test_invalid_requests(cal: BuiltinCalendar) -> None:
    with pytest.raises(InvalidRequestError):
        await cal.book(service="massage", start=sat(10), name="A", phone="1", idempotency_key=key())
    with pytest.raises(InvalidRequestError):
        await cal.book(
            service="haircut",
            start=sat(10),
            name="A",
            phone="1",
            staff="Bob",
            idempotency_key=key(),
        )
    with pytest.raises(ValueError, match="timezone-aware"):
        await cal.book(
            service="haircut",
            start=datetime(2026, 12, 5, 10),
            name="A",
            phone="1",
            idempotency_key=key(),
        )


# -- cancel / reschedule / find ------------------------------------------------------------------


async def test_cancel_frees_the_slot(cal: BuiltinCalendar, engine: sa.Engine) -> None:
    booking = await cal.book(
        service="color", start=sat(10), name="A", phone="1", staff="Maria", idempotency_key=key()
    )
    cancelled = await cal.cancel(booking.id)
    assert cancelled.status == "cancelled" and cancelled.id == booking.id
    assert count(engine, CalStaffCell) == 0
    assert (await cal.cancel(booking.id)).status == "cancelled"  # cancelling twice is harmless
    rebooked = await cal.book(
        service="haircut",
        start=sat(10, 30),
        name="B",
        phone="2",
        staff="Maria",
        idempotency_key=key(),
    )
    assert rebooked.staff == "Maria"
    assert [b.id for b in await cal.find_bookings(phone="1")] == []
    with pytest.raises(BookingNotFoundError):
        await cal.cancel("no-such-id")


async def test_reschedule_moves_the_booking(cal: BuiltinCalendar, engine: sa.Engine) -> None:
    booking = await cal.book(
        service="color", start=sat(10), name="A", phone="1", staff="Maria", idempotency_key=key()
    )
    await cal.book(
        service="color", start=sat(10), name="T", phone="9", staff="Tom", idempotency_key=key()
    )
    moved = await cal.reschedule(booking.id, sat(10, 30))  # overlaps its own old time
    assert (moved.id, moved.start, moved.end, moved.staff) == (
        booking.id,
        sat(10, 30),
        sat(12),
        "Maria",
    )
    assert count(engine, CalStaffCell, appointment_id=booking.id) == 3
    free = await cal.list_free_slots(service="haircut", start=sat(10), end=sat(10, 30))
    assert [(s.start, s.staff) for s in free] == [(sat(10), "Maria")]


async def test_reschedule_conflict_keeps_old_booking(
    cal: BuiltinCalendar, engine: sa.Engine
) -> None:
    mine = await cal.book(
        service="haircut", start=sat(10), name="A", phone="1", staff="Maria", idempotency_key=key()
    )
    for staff in ("Maria", "Tom"):
        await cal.book(
            service="haircut",
            start=sat(12),
            name=staff,
            phone="2",
            staff=staff,
            idempotency_key=key(),
        )
    with pytest.raises(SlotUnavailableError):
        await cal.reschedule(mine.id, sat(12))
    with pytest.raises(SlotUnavailableError, match="after closing"):
        await cal.reschedule(mine.id, sat(15, 30).replace(hour=16))
    assert (await cal.find_bookings(phone="1")) == [mine]
    assert count(engine, CalStaffCell, appointment_id=mine.id) == 1
    with pytest.raises(SlotUnavailableError):
        await cal.book(
            service="haircut",
            start=sat(10),
            name="B",
            phone="3",
            staff="Maria",
            idempotency_key=key(),
        )


async def test_reschedule_to_another_staff_member_and_cancelled(cal: BuiltinCalendar) -> None:
    mine = await cal.book(
        service="haircut", start=sat(10), name="A", phone="1", staff="Maria", idempotency_key=key()
    )
    await cal.book(
        service="haircut", start=sat(13), name="B", phone="2", staff="Maria", idempotency_key=key()
    )
    moved = await cal.reschedule(mine.id, sat(13))
    assert moved.staff == "Tom"
    await cal.cancel(mine.id)
    with pytest.raises(BookingNotFoundError):
        await cal.reschedule(mine.id, sat(14))


async def test_find_bookings(cal: BuiltinCalendar, dental_cal: BuiltinCalendar) -> None:
    late = await cal.book(
        service="haircut",
        start=sat(14),
        name="Dana  Smith",
        phone="+1 (555) 123-0001",
        idempotency_key=key(),
    )
    early = await cal.book(
        service="color",
        start=sat(10),
        name="dana smith",
        phone="+15551230001",
        idempotency_key=key(),
    )
    other = await cal.book(
        service="haircut", start=sat(11), name="Eve", phone="+15551230002", idempotency_key=key()
    )
    await dental_cal.book(
        service="checkup",
        start=fri_dental(9),
        name="Dana Smith",
        phone="+15551230001",
        idempotency_key=key(),
    )
    assert await cal.find_bookings(phone="+1 555 123 0001") == [early, late]
    assert await cal.find_bookings(name="DANA SMITH") == [early, late]
    assert await cal.find_bookings(name="eve", phone="+15551230002") == [other]
    assert await cal.find_bookings(name="eve", phone="+15551230001") == []
    with pytest.raises(ValueError, match="phone number or a name"):
        await cal.find_bookings()


async def test_seed_ignores_hours_but_not_occupancy(cal: BuiltinCalendar) -> None:
    sunday = await cal.seed(
        [{"service": "haircut", "start": "2026-12-06T12:00:00", "name": "Sun", "phone": "1"}]
    )
    assert sunday[0].start == datetime(2026, 12, 6, 12, tzinfo=NY)  # naive = business time
    # Unaligned 10:10-10:40 touches the 10:00 and 10:30 cells for Maria.
    await cal.seed(
        [{"service": "haircut", "start": sat(10, 10), "name": "X", "phone": "2", "staff": "Maria"}]
    )
    with pytest.raises(SlotUnavailableError):
        await cal.seed(
            [
                {
                    "service": "haircut",
                    "start": sat(10, 30),
                    "name": "Y",
                    "phone": "3",
                    "staff": "Maria",
                }
            ]
        )
    slots = await cal.list_free_slots(service="haircut", start=sat(10), end=sat(11, 30))
    assert [(s.start, s.staff) for s in slots] == [
        (sat(10), "Tom"),
        (sat(10, 30), "Tom"),
        (sat(11), "Maria"),
    ]


# -- database-level guarantees -------------------------------------------------------------------


async def test_concurrent_bookings_for_one_staff_member(
    cal: BuiltinCalendar, engine: sa.Engine
) -> None:
    results = await asyncio.gather(
        *(
            cal.book(
                service="color",
                start=sat(11),
                name=f"Caller {i}",
                phone=f"+1555000{i:04}",
                staff="Maria",
                idempotency_key=key(),
            )
            for i in range(20)
        ),
        return_exceptions=True,
    )
    booked = [r for r in results if not isinstance(r, BaseException)]
    failures = [r for r in results if isinstance(r, BaseException)]
    assert len(booked) == 1
    assert all(isinstance(f, SlotUnavailableError) for f in failures), failures
    assert count(engine, CalAppointment, status="booked") == 1
    assert count(engine, CalStaffCell) == 3


async def test_concurrent_bookings_any_staff_and_same_key(
    cal: BuiltinCalendar, engine: sa.Engine
) -> None:
    results = await asyncio.gather(
        *(
            cal.book(service="haircut", start=sat(12), name="A", phone="1", idempotency_key=key())
            for _ in range(10)
        ),
        return_exceptions=True,
    )
    booked = [r for r in results if not isinstance(r, BaseException)]
    assert sorted(b.staff or "" for b in booked) == ["Maria", "Tom"]
    assert all(isinstance(r, SlotUnavailableError) for r in results if r not in booked)
    k = key()
    same = await asyncio.gather(
        *(
            cal.book(service="haircut", start=sat(13), name="B", phone="2", idempotency_key=k)
            for _ in range(10)
        )
    )
    assert len({b.id for b in same}) == 1
    assert count(engine, CalAppointment, idempotency_key=k) == 1


async def test_raw_overlapping_cell_violates_unique_constraint(
    cal: BuiltinCalendar, engine: sa.Engine
) -> None:
    booking = await cal.book(
        service="haircut", start=sat(10), name="A", phone="1", staff="Maria", idempotency_key=key()
    )
    other = await cal.book(
        service="haircut", start=sat(10), name="B", phone="2", staff="Tom", idempotency_key=key()
    )
    cell = sat(10).astimezone(UTC).replace(tzinfo=None)
    # Typed bind so SQLite stores the same text form the calendar writes.
    insert = sa.text(
        "INSERT INTO cal_staff_cell (business, staff, cell_start_utc, appointment_id)"
        " VALUES (:business, :staff, :cell, :appointment)"
    ).bindparams(sa.bindparam("cell", type_=sa.DateTime()))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(
            insert,
            {"business": "demo-salon", "staff": "Maria", "cell": cell, "appointment": other.id},
        )
    assert booking.staff == "Maria"
    assert count(engine, CalStaffCell) == 2


class _NoPrecheckCalendar(BuiltinCalendar):
    """Skips the read-before-write, so only the database's unique constraint can say no."""

    def _busy_staff(self, cells: list[datetime], *, ignore: str | None = None) -> set[str]:
        return set()


async def test_database_alone_prevents_double_booking(engine: sa.Engine, salon: Business) -> None:
    cal = _NoPrecheckCalendar(business=salon, engine=engine)
    results = await asyncio.gather(
        *(
            cal.book(
                service="color",
                start=sat(11),
                name="A",
                phone="1",
                staff="Tom",
                idempotency_key=key(),
            )
            for _ in range(20)
        ),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, SlotUnavailableError) for r in results if isinstance(r, Exception))
    assert count(engine, CalAppointment) == 1  # losers' appointment rows were rolled back
    assert count(engine, CalStaffCell, staff="Tom") == 3


# -- 50 concurrent bookings, several "workers" (engines), real thread-level concurrency ---------


async def _race(engines: list[sa.Engine], salon: Business, requests: list[dict],
                calendar_cls: type[BuiltinCalendar] = BuiltinCalendar) -> dict[str, int]:
    from concurrent.futures import ThreadPoolExecutor

    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(max_workers=50))  # 50 truly parallel writers
    cals = [calendar_cls(business=salon, engine=e) for e in engines]
    results = await asyncio.gather(
        *(cals[i % len(cals)].book(**req) for i, req in enumerate(requests)),
        return_exceptions=True,
    )
    unexpected = [r for r in results if isinstance(r, BaseException)
                  and not isinstance(r, SlotUnavailableError)]
    assert unexpected == []
    booked = sum(not isinstance(r, BaseException) for r in results)
    return {"booked": booked, "refused": len(results) - booked}


@pytest.fixture
def workers(engine: sa.Engine) -> Iterator[list[sa.Engine]]:
    """Five engines on the same database: five agent workers with their own pools."""
    url = engine.url.render_as_string(hide_password=False)
    extra = [make_engine(url, pool_size=12, max_overflow=0) if engine.dialect.name != "sqlite"
             else make_engine(url) for _ in range(4)]
    yield [engine, *extra]
    for e in extra:
        e.dispose()


def _request(i: int, service: str, start: datetime) -> dict:
    return {"service": service, "start": start, "name": f"Caller {i}", "phone": f"+1555{i:07}",
            "staff": "Maria", "idempotency_key": key()}


@pytest.mark.parametrize("precheck", [True, False], ids=["with-precheck", "database-only"])
async def test_50_concurrent_bookings_same_staff_same_time(
    workers: list[sa.Engine], engine: sa.Engine, salon: Business, precheck: bool
) -> None:
    cls = BuiltinCalendar if precheck else _NoPrecheckCalendar
    counts = await _race(workers, salon, [_request(i, "color", sat(11)) for i in range(50)], cls)
    print(f"\nbuiltin {engine.dialect.name} identical ({'pre-check' if precheck else 'db only'}):"
          f" {counts}")
    assert counts == {"booked": 1, "refused": 49}
    assert count(engine, CalAppointment, status="booked") == 1
    assert count(engine, CalStaffCell, staff="Maria") == 3


@pytest.mark.parametrize("precheck", [True, False], ids=["with-precheck", "database-only"])
async def test_50_concurrent_overlapping_bookings(
    workers: list[sa.Engine], engine: sa.Engine, salon: Business, precheck: bool
) -> None:
    """Different services and starts that all cover 11:30-12:00 for Maria."""
    shapes = [("color", sat(11)), ("haircut", sat(11, 30)), ("color", sat(10, 30)),
              ("blowdry", sat(11, 30)), ("color", sat(11, 30))]
    requests = [_request(i, *shapes[i % 5]) for i in range(50)]
    cls = BuiltinCalendar if precheck else _NoPrecheckCalendar
    counts = await _race(workers, salon, requests, cls)
    print(f"\nbuiltin {engine.dialect.name} overlapping "
          f"({'pre-check' if precheck else 'db only'}): {counts}")
    assert counts == {"booked": 1, "refused": 49}
    assert count(engine, CalAppointment, status="booked") == 1
