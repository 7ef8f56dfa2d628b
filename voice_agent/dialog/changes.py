"""Cancelling and moving a caller's existing booking: which one, and whether it is theirs.

Only a booking's owner may change it. A booking found under the caller ID is theirs. One found
by name (the caller rings from another number) may be changed only after the caller names its
day and the number it was booked under; until then nothing about it is read out. When the
caller has several bookings, the one they name is taken and any they say to keep is left
alone; when it is not clear which, the agent asks. A move goes to the day the caller wants,
never back to the booking's own day ("push it back a week" counts from that day); "same time"
keeps its clock time.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from connectors.base import Booking
from voice_agent.dialog.replies import Say, join_words
from voice_agent.dialog.state import DialogState
from voice_agent.dialog.timeparse import TimeOfDay
from voice_agent.dialog.understanding import Understanding

if TYPE_CHECKING:
    from voice_agent.dialog.policy import Decision

__all__ = ["ExistingBookings", "same_number"]


def same_number(a: str | None, b: str | None) -> bool:
    """The same phone number, with or without country code or trunk prefix."""
    da, db = re.sub(r"\D", "", a or "").lstrip("0"), re.sub(r"\D", "", b or "").lstrip("0")
    if len(da) < 7 or len(db) < 7:
        return False
    short, long_ = sorted((da, db), key=len)
    return long_.endswith(short) and len(long_) - len(short) <= 3


class ExistingBookings:
    """The cancel / move half of :class:`~voice_agent.dialog.policy.BookingPolicy`."""

    if TYPE_CHECKING:
        business: Any
        words: Any
        today: date

        def _day(self, day: date) -> str: ...
        def _next_slot_step(self, state: DialogState) -> Decision: ...
        def _not_understood(self, state: DialogState, u: Understanding,
                            reask: Say | None = None) -> Decision: ...

    def _booking_args(self, booking: Booking) -> dict[str, Any]:
        return self.words.booking_args(booking)

    def _local_day(self, booking: Booking) -> date:
        return booking.start.astimezone(self.business.tz).date()

    def after_find(self, state: DialogState, bookings: list[Booking], u: Understanding, *,
                   by_name: bool = False) -> Decision:
        """The caller's upcoming bookings are known: pick the one they mean, or ask."""
        from voice_agent.dialog.policy import Find

        state.existing_options = sorted(bookings, key=lambda b: b.start)
        state.found_by_name, state.verified = by_name, not by_name
        if not bookings:
            if by_name:
                state.intent = "book"
                return Say("no_booking_found_name", asked="anything")
            if state.name:
                return Find(by_name=True)
            return Say("no_booking_found", asked="name")
        return self._choose_existing(state, u)

    def _choose_existing(self, state: DialogState, u: Understanding) -> Decision:
        from voice_agent.dialog.policy import Find

        options = state.existing_options
        if not options:
            return Find(by_name=True) if state.name else Say("no_booking_found", asked="name")
        if state.found_by_name and not state.verified:
            return self._verify_owner(state, u)
        kept = [b for b in options if self._kept(b, u)]
        candidates = [b for b in options if b not in kept]
        matches = [b for b in candidates if self._refers_to(b, u)] or candidates
        if not matches:  # "keep" named every one of them: nothing to change
            state.intent, state.existing = "book", None
            return Say("keep_booking", asked="anything")
        if len(matches) > 1:
            listed = join_words([
                "your {service} on {day} at {time}".format(**self._booking_args(b))
                for b in matches[:3]])
            state.existing_options = matches
            return Say("which_booking", {"bookings": listed}, asked="booking")
        booking = state.existing = matches[0]
        state.name = state.name or booking.name
        if state.intent == "cancel" and state.undecided:
            return Say("cancel_or_move", self._booking_args(booking), asked="date")
        if state.intent == "cancel":
            return Say("confirm_cancel", self._booking_args(booking), asked="confirm")
        return self._move_existing(state, booking, u)

    def _verify_owner(self, state: DialogState, u: Understanding) -> Decision:
        """Found by name from another number: the day of the booking, then its number."""
        if not state.owner_day_said:
            days = set(u.days) | set(state.change_days)
            if not days:
                return Say("verify_day", asked="date")
            on_day = [b for b in state.existing_options if self._local_day(b) in days]
            if not on_day:
                return self._not_verified(state)
            state.existing_options, state.owner_day_said = on_day, True
            return Say("verify_number", asked="phone")
        number = u.phone
        if number is None and (u.affirm or re.search(r"\bcalling from\b", u.text.lower())):
            number = state.caller_phone  # "the number I'm calling from"
        if number is None:
            if u.unsure or u.deny or u.done or state.misunderstandings >= 1:
                return self._not_verified(state)  # cannot give it: no change, no loop
            state.misunderstandings += 1
            return Say("clarify_phone", asked="phone")
        theirs = [b for b in state.existing_options if same_number(b.phone, number)]
        if not theirs:
            return self._not_verified(state)
        state.existing_options, state.verified = theirs, True
        # the request that started it says where to ("to the following Monday, same time")
        return self._choose_existing(state, state.change_request or Understanding(text=""))

    def _not_verified(self, state: DialogState) -> Say:
        state.intent, state.existing, state.existing_options = "book", None, []
        state.booking_pending = True  # a colleague calls back (recorded by the manager)
        return Say("verify_failed", asked="anything")

    def _kept(self, booking: Booking, u: Understanding) -> bool:
        """The caller said to keep this one ("cancel the haircut, keep the colour")."""
        if not (u.keep_service or u.keep_days):
            return False
        if u.keep_service and u.keep_service != booking.service:
            return False
        return not (u.keep_days and self._local_day(booking) not in u.keep_days)

    def _refers_to(self, booking: Booking, u: Understanding) -> bool:
        if u.service and u.service.id != booking.service:
            return False
        local = booking.start.astimezone(self.business.tz)
        if u.days and local.date() not in u.days:
            return False
        if u.tod and u.tod.exact and u.tod.exact != local.time().replace(tzinfo=None) and not (
                u.service or u.days):
            return False
        return bool(u.service or u.days or (u.tod and u.tod.exact))

    def _move_existing(self, state: DialogState, booking: Booking, u: Understanding) -> Decision:
        state.service = self.business.service(booking.service)
        local = booking.start.astimezone(self.business.tz)
        # Where to: the day named as the destination ("to Wednesday"), else any other day
        # mentioned; never back to the booking's own day.
        new_days = [d for d in u.target_days if d != local.date()] or [
            d for d in u.days if d != local.date()]
        new_day = new_days[-1] if new_days else None
        if new_day is None and u.shift_days:  # "push it back a fortnight": from its own day
            shifted = local.date() + timedelta(days=u.shift_days)
            new_day = shifted if shifted >= self.today else None
        tod = u.tod
        if u.same_time:
            tod = TimeOfDay(exact=local.time().replace(tzinfo=None))
        if new_day is None and not (tod and tod.exact and tod.exact != local.time().replace(
                tzinfo=None)):
            if u.same_time:
                state.tod = tod
            return Say("ask_new_day", self._booking_args(booking), asked="date")
        state.day = new_day or local.date()
        state.tod = tod or state.tod
        return self._next_slot_step(state)

    def _on_cancel(self, state: DialogState, u: Understanding) -> Decision:
        from voice_agent.dialog.policy import Cancel

        assert state.existing is not None
        booking = state.existing
        if state.undecided:  # the answer to "cancel it, or move it to which day?"
            if u.wants_cancel or (u.affirm and not (u.day or u.tod)):
                state.undecided = False
                return Say("confirm_cancel", self._booking_args(booking), asked="confirm")
            if u.day or (u.tod and u.tod.exact) or u.wants_reschedule or u.same_time:
                state.undecided, state.intent = False, "reschedule"
                return self._move_existing(state, booking, u)
            if u.deny or u.done:
                state.intent, state.existing, state.undecided = "book", None, False
                return Say("keep_booking", asked="anything")
            return self._not_understood(state, u, reask=Say(
                "cancel_or_move", self._booking_args(booking), asked="date"))
        if u.affirm and not u.deny:
            return Cancel(booking)
        if any(b.id != booking.id and self._refers_to(b, u) for b in state.existing_options):
            state.existing = None  # "no, the one on Friday"
            return self._choose_existing(state, u)
        local = booking.start.astimezone(self.business.tz)
        if (u.day and u.day != local.date()) or (
            u.tod and u.tod.exact and u.tod.exact != local.time().replace(tzinfo=None)
        ):
            # "can't make it" + "could I do Monday at 11:15 instead?": a move, not a cancel.
            state.intent = "reschedule"
            return self._move_existing(state, booking, u)
        if u.deny or u.done:
            state.intent, state.existing = "book", None
            return Say("keep_booking", asked="anything")
        return self._not_understood(state, u, reask=Say(
            "confirm_cancel", self._booking_args(state.existing), asked="confirm"))
