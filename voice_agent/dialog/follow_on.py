"""A second service asked for in the same breath: booked straight after the first.

"Can I book a haircut on Friday at 10, and then a blow-dry straight after?" is two bookings.
The reader takes the first service named (one booking at a time) and notes the one asked for
after it (``Understanding.then_service``, ``matching.follow_on_service``). Once the first
booking is written (or noted for review), a receptionist goes straight on to the second:
its availability is checked at the end of the first, and the caller hears "You're all set,
Amy Cole: a haircut on Friday, November 27 at 10 AM. And the blow-dry straight after: 10:30
AM is free ... Shall I book that?". It is booked, like any booking, only after a yes to that
exact slot; when it is not free the caller hears the nearest times, as for any request. The
name and number already given stand.

Only a follow-on with no time or day of its own is noted ("a haircut at 10 and a blow-dry at
2" is left to the caller to ask for after the first): "straight after" is the only timing
taken from the words.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from connectors.base import Booking, Slot
from connectors.schedule import Business
from voice_agent.dialog.policy import Check
from voice_agent.dialog.replies import Say
from voice_agent.dialog.state import DialogState
from voice_agent.dialog.timeparse import TimeOfDay
from voice_agent.dialog.understanding import Understanding

__all__ = ["clear_of_own", "note_follow_on", "offer_follow_on"]


def clear_of_own(free: list[Slot], own: Booking | None, business: Business,
                 service: str) -> list[Slot]:
    """``free`` without the slots that overlap the booking the caller made in this call: the
    other stylist may be free at 10 for a blow-dry, but the caller is in the chair then."""
    if own is None:
        return free
    own_end = own.start + timedelta(minutes=business.service(own.service).minutes)
    length = timedelta(minutes=business.service(service).minutes)
    return [s for s in free if s.start >= own_end or s.start + length <= own.start]


def note_follow_on(state: DialogState, u: Understanding) -> None:
    """Hold the second service of a two-service request until the first is booked."""
    if (u.then_service is not None and u.service is not None and state.intent == "book"
            and u.question is None and not (u.wants_cancel or u.wants_reschedule or u.cant_come)):
        state.then_service = u.then_service  # not "do you do cuts and colours?"


async def offer_follow_on(state: DialogState, business: Business, done: Say, *, service: str,
                          start: datetime, check: Callable[[Check], Awaitable[Say]]) -> Say:
    """``done`` (the first booking's reply) or, with a service held to follow it, that reply
    without its "anything else?" and then the second service's availability straight after
    (``check``: the manager's availability step for a ``policy.Check``)."""
    follow = state.then_service
    if follow is None or state.ended:
        return done
    state.then_service = None
    after = start + timedelta(minutes=business.service(service).minutes)
    local = after.astimezone(business.tz)
    state.service, state.day = follow, local.date()
    state.tod = TimeOfDay(exact=local.time().replace(tzinfo=None))
    state.forget_slot()
    nxt = await check(Check(follow.id, local.date(), local, staff=state.staff))
    lead = [*done.lead, (f"{done.key}_then", done.args),
            ("follow_on", {"service": follow.name.lower()})]
    return Say(nxt.key, nxt.args, asked=nxt.asked, lead=[*lead, *nxt.lead],
               end_call=nxt.end_call, outcome=nxt.outcome)
