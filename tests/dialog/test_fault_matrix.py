"""Fault matrix, connector row: the calendar provider fails while a confirmed booking is
being written. The real DialogManager, Outbox and BuiltinCalendar on SQLite, the real
ResilientConnector (short timeouts, real retries) around a provider double that fails the
way providers do; checked: what the caller hears, the outbox row, and the calendar."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from connectors.base import (
    Booking,
    ConnectorError,
    ConnectorStatusError,
    MalformedResponseError,
)
from connectors.resilience import ConnectOptions, ResilientConnector

from .test_existing_bookings import CALLER, rig

NOTED = ("I've noted your request for a haircut on Tuesday, December 1 at 3 PM. It isn't "
         "confirmed yet; a colleague will call you if there's any problem with it.")
OPTIONS = ConnectOptions(timeout=0.2, max_retry=2, retry_interval=0.01, max_backoff=0.05)


class FlakyProvider:
    """The real calendar for availability; ``book`` fails as ``mode`` says. ``slow`` writes
    the booking and then never answers (the answer is lost), so every retry must find it."""

    def __init__(self, inner: Any, mode: str) -> None:
        self.inner, self.mode, self.capabilities = inner, mode, inner.capabilities
        self.book_calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def book(self, **kwargs: Any) -> Booking:
        self.book_calls += 1
        if self.mode == "down":
            raise ConnectorError("connection refused", retryable=True)
        if self.mode == "slow":
            await self.inner.book(**kwargs)
            await asyncio.sleep(30)
        if self.mode == "429":
            raise ConnectorStatusError("rate limited", status_code=429, retry_after=120)
        if self.mode == "5xx":
            raise ConnectorStatusError("bad gateway", status_code=502)
        if self.mode == "garbage":
            raise MalformedResponseError("HTML where JSON was expected")
        if self.mode == "bug":  # not a ConnectorError: the wrapper must translate it
            raise KeyError("id")
        raise AssertionError(self.mode)


# mode -> book attempts the resilience layer makes (retryable: 1 + max_retry)
MODES = {"down": 3, "slow": 3, "429": 1, "5xx": 3, "garbage": 1, "bug": 1}


@pytest.mark.parametrize("mode", sorted(MODES))
async def test_a_failing_provider_leaves_a_pending_intent_and_one_booking_at_most(
        tmp_path: Path, mode: str) -> None:
    providers: list[FlakyProvider] = []

    def wrap(cal: Any) -> ResilientConnector:
        providers.append(FlakyProvider(cal, mode))
        return ResilientConnector(providers[0], kind="builtin", options=OPTIONS)

    async with rig(tmp_path, wrap=wrap) as r:
        r.manager.greeting()
        await r.say("my name is Dana Smith, I'd like a haircut next Tuesday at 3 pm")
        await r.say("That's fine.")
        t = await r.say("Yes please, book it.")
        heard = t.agent_text
        intents = r.intents()
        bookings = await r.calendar.find_bookings(phone=CALLER)
    assert heard.startswith(NOTED), heard  # not confirmed; a colleague calls back
    [book] = [c for c in t.tool_calls if c["name"] == "book_appointment"]
    assert book["status"] == "failed"
    [intent] = [i for i in intents if i.action == "book"]
    assert intent.status == "pending" and intent.booking_id is None and intent.error
    assert intent.payload["phone"] == CALLER and intent.idempotency_key
    assert providers[0].book_calls == MODES[mode]
    # only "slow" reached the calendar; its retries reused the key: one booking, not three
    assert len(bookings) == (1 if mode == "slow" else 0)


async def test_a_provider_down_during_the_availability_check_apologises_and_takes_a_callback(
        tmp_path: Path) -> None:
    class Down(FlakyProvider):
        async def list_free_slots(self, **kwargs: Any) -> Any:
            self.book_calls += 1
            raise ConnectorStatusError("service unavailable", status_code=503)

    def wrap(cal: Any) -> ResilientConnector:
        return ResilientConnector(Down(cal, "down"), kind="builtin", options=OPTIONS)

    async with rig(tmp_path, wrap=wrap) as r:
        r.manager.greeting()
        t = await r.say("my name is Dana Smith, I'd like a haircut next Tuesday at 3 pm")
        intents = r.intents()
    assert "sorry" in t.agent_text.lower() and t.end_call, t.agent_text
    assert [(i.action, i.payload["why"]) for i in intents] == [
        ("callback", "availability check failed")]
