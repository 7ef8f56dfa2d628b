"""A bare hour the caller picks that none of the offered times is on: a time to check, or a
question when one offered time is in that hour, never the same times offered again (audio
eval: "I'd rather stick with Dr Okafor, so ten's fine." after 8:30, 10:45 and 11:45 were
offered: offered again twice, then no booking)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from .test_existing_bookings import rig

NOW = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)
OKAFOR_BUSY = [
    {"service": "checkup", "start": "2026-12-04T09:00:00+00:00", "name": "Lena Park",
     "phone": "+447700905003", "staff": "Dr Okafor"},
    {"service": "checkup", "start": "2026-12-04T09:30:00+00:00", "name": "Sam Reid",
     "phone": "+447700905004", "staff": "Dr Okafor"},
]


async def test_a_bare_hour_beside_an_offered_time_in_that_hour_is_asked_about(
        tmp_path: Path) -> None:
    async with rig(tmp_path, business="demo-dental", now=NOW, calendar=OKAFOR_BUSY) as r:
        r.manager.greeting()
        offer = await r.manager.handle_turn(
            "Is Dr Okafor in on Friday morning? I'd like a check-up with her.")
        assert "8:30 AM, 10:45 AM and 11:45 AM" in offer.agent_text, offer.agent_text
        which = await r.manager.handle_turn("I'd rather stick with Dr Okafor, so ten's fine.")
        assert which.agent_text == "Sorry, did you mean 10 AM, or 10:45 AM?"
        assert r.manager.state.offer is None
        picked = await r.manager.handle_turn("10 AM please.")
        assert picked.agent_text.startswith("10 AM on Friday, December 4 is free"), (
            picked.agent_text)
        assert r.manager.state.offer is not None
        assert r.manager.state.offer.start.hour == 10 and r.manager.state.offer.staff == (
            "Dr Okafor")


async def test_a_bare_hour_no_offered_time_is_in_is_checked_as_that_time(tmp_path: Path
                                                                        ) -> None:
    async with rig(tmp_path, business="demo-dental", now=NOW, calendar=OKAFOR_BUSY) as r:
        r.manager.greeting()
        await r.manager.handle_turn(
            "Is Dr Okafor in on Friday morning? I'd like a check-up with her.")
        picked = await r.manager.handle_turn("Hmm, twelve's fine.")  # 12: none offered
        assert picked.agent_text.startswith("12 PM on Friday, December 4 is free"), (
            picked.agent_text)
