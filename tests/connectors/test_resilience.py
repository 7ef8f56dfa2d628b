"""The one retry / timeout / circuit-breaker layer, on the real builtin calendar with faults
injected in front of it."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from connectors.base import (
    CircuitOpenError,
    ConnectorError,
    ConnectorStatusError,
    ConnectorTimeoutError,
    SlotUnavailableError,
)
from connectors.builtin import BuiltinCalendar, create_calendar_tables, make_engine
from connectors.fake import FaultyConnector
from connectors.resilience import CircuitBreaker, ConnectOptions, ResilientConnector
from connectors.schedule import load_business

FAST = ConnectOptions(timeout=0.2, max_retry=2, retry_interval=0.001, max_backoff=0.05,
                      breaker_failures=3, breaker_reset_s=60)


@pytest.fixture
def calendar(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/cal.db")
    create_calendar_tables(engine)
    yield BuiltinCalendar(business=load_business("businesses/demo-salon.yaml"),
                          engine=engine)
    engine.dispose()


def next_weekday_at(business, weekday: int, hour: int) -> datetime:
    now = datetime.now(business.tz)
    day = now.date() + timedelta(days=1)
    while day.weekday() != weekday:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, tzinfo=business.tz)


def book_args(calendar, key: str = "k1") -> dict:
    start = next_weekday_at(calendar.business, 1, 10)  # a Tuesday, 10:00
    return {"service": "haircut", "start": start, "name": "Dana Smith",
            "phone": "+15551230001", "idempotency_key": key}


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


async def test_retryable_failures_are_retried_then_succeed(calendar) -> None:
    faulty = FaultyConnector(calendar, fail_times=2, ops={"book"},
                             fake_exception=ConnectorStatusError("503", status_code=503))
    sleeps = Sleeps()
    booking = await ResilientConnector(faulty, kind="t", options=FAST, sleep=sleeps).book(
        **book_args(calendar))
    assert booking.active
    assert faulty.calls == ["book", "book", "book"]
    assert len(sleeps.delays) == 2 and all(0 < d <= 0.05 for d in sleeps.delays)


async def test_a_retried_booking_whose_answer_was_lost_is_not_doubled(calendar) -> None:
    """The CRM booked, the answer was lost (timeout): the retry carries the same idempotency
    key and gets the same booking back."""
    faulty = FaultyConnector(calendar, ops={"book"},
                             after_success_exception=ConnectorTimeoutError())
    booking = await ResilientConnector(faulty, kind="t", options=FAST, sleep=Sleeps()).book(
        **book_args(calendar))
    assert faulty.calls == ["book", "book"]
    assert [b.id for b in await calendar.list_bookings()] == [booking.id]


async def test_non_retryable_errors_are_not_retried(calendar) -> None:
    faulty = FaultyConnector(calendar, fail_times=5, ops={"book"},
                             fake_exception=ConnectorStatusError("401", status_code=401))
    with pytest.raises(ConnectorStatusError) as info:
        await ResilientConnector(faulty, kind="t", options=FAST, sleep=Sleeps()).book(
            **book_args(calendar))
    assert info.value.status_code == 401 and faulty.calls == ["book"]


async def test_caller_answers_are_neither_retried_nor_counted_as_failures(calendar) -> None:
    resilient = ResilientConnector(calendar, kind="t", options=FAST, sleep=Sleeps())
    first = await resilient.book(**book_args(calendar, "a"))
    for key in "bcdef":  # more "slot taken" answers than breaker_failures
        with pytest.raises(SlotUnavailableError):
            await resilient.book(**book_args(calendar, key), staff=first.staff)
    assert resilient.breaker.state == "closed"


async def test_a_hanging_provider_times_out_per_attempt(calendar) -> None:
    faulty = FaultyConnector(calendar, hang=True, ops={"list_free_slots"})
    resilient = ResilientConnector(faulty, kind="t", options=FAST, sleep=Sleeps())
    start = next_weekday_at(calendar.business, 1, 9)
    with pytest.raises(ConnectorTimeoutError, match=r"timed out after 0\.2 s"):
        await resilient.list_free_slots(service="haircut", start=start,
                                        end=start + timedelta(hours=8))
    assert faulty.calls == ["list_free_slots"] * 3


async def test_unexpected_exceptions_become_connector_errors(calendar) -> None:
    faulty = FaultyConnector(calendar, fail_times=1, fake_exception=KeyError("boom"),
                             ops={"health_check"})
    with pytest.raises(ConnectorError, match="failed unexpectedly \\(KeyError\\)") as info:
        await ResilientConnector(faulty, kind="t", options=FAST).health_check()
    assert not info.value.retryable and type(info.value) is ConnectorError


async def test_a_long_retry_after_is_not_waited_for_on_a_live_call(calendar) -> None:
    error = ConnectorStatusError("429", status_code=429, retry_after=60)
    faulty = FaultyConnector(calendar, fail_times=1, fake_exception=error, ops={"book"})
    sleeps = Sleeps()
    with pytest.raises(ConnectorStatusError):
        await ResilientConnector(faulty, kind="t", options=FAST, sleep=sleeps).book(
            **book_args(calendar))
    assert sleeps.delays == []


async def test_a_short_retry_after_is_honoured(calendar) -> None:
    error = ConnectorStatusError("429", status_code=429, retry_after=0.04)
    faulty = FaultyConnector(calendar, fail_times=1, fake_exception=error, ops={"book"})
    sleeps = Sleeps()
    await ResilientConnector(faulty, kind="t", options=FAST, sleep=sleeps).book(
        **book_args(calendar))
    assert sleeps.delays == [0.04]


async def test_the_breaker_opens_refuses_then_lets_one_trial_through(calendar) -> None:
    now = [0.0]
    breaker = CircuitBreaker(failures=3, reset_s=30, clock=lambda: now[0])
    faulty = FaultyConnector(calendar, fail_times=3, ops={"health_check"},
                             fake_exception=ConnectorError("down", retryable=False))
    resilient = ResilientConnector(faulty, kind="t", options=FAST, breaker=breaker)
    for _ in range(3):
        with pytest.raises(ConnectorError, match="down"):
            await resilient.health_check()
    assert breaker.state == "open"
    with pytest.raises(CircuitOpenError) as info:
        await resilient.health_check()
    assert info.value.retryable and faulty.calls == ["health_check"] * 3  # not reached
    now[0] = 31.0
    assert breaker.state == "half_open"
    await resilient.health_check()  # the trial call succeeds: closed again
    assert breaker.state == "closed"


def test_a_failed_trial_reopens_the_breaker() -> None:
    now = [0.0]
    breaker = CircuitBreaker(failures=2, reset_s=10, clock=lambda: now[0])
    breaker.record_failure()
    breaker.record_failure()
    now[0] = 10.0
    breaker.before_call("x")  # the one trial
    with pytest.raises(CircuitOpenError):
        breaker.before_call("x")  # a second caller during the trial is refused
    breaker.record_failure()
    assert breaker.state == "open"
