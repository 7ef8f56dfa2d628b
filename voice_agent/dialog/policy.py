"""The booking policy: deterministic decisions the LLM cannot override.

Given what the caller just said (``Understanding``) and the call so far (``DialogState``),
the policy decides the next step: a tool that must run (availability check, booking), a
reply whose exact words matter, or an open turn where the LLM may answer. It guarantees:
a slot is stated as free only from a fresh availability result; a booking is made only after
the caller said yes to that exact service, day and time; out-of-hours and unknown services
are refused with alternatives; a caller who is not understood three times is offered a human.
The words of each reply are ``replies``'s job.
"""

from __future__ import annotations

import re
import time as _time
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from connectors.base import Booking, Slot
from connectors.schedule import Business
from voice_agent.dialog.replies import ReplyRenderer, Say, join_words
from voice_agent.dialog.state import Availability, DialogState
from voice_agent.dialog.timeparse import PARTS_OF_DAY, describe_time
from voice_agent.dialog.understanding import EXISTING_BOOKING_CHANGE, Understanding

MAX_MISUNDERSTANDINGS = 3
_STOP = re.compile(r"\b(wait|don'?t book|cancel|stop)\b")
MAX_OFFERED_TIMES = 3


@dataclass
class Check:
    service: str
    day: date
    start: datetime | None  # exact time asked for, if any


@dataclass
class Book:
    service: str
    start: datetime
    name: str
    phone: str


@dataclass
class Find:
    """Look up the caller's upcoming bookings (by caller ID, or by name)."""

    by_name: bool = False


@dataclass
class Cancel:
    booking: Booking


@dataclass
class Open:
    """Nothing certain to do: the LLM may answer, under the reply guard."""

    asked: str | None


Decision = Say | Check | Book | Find | Cancel | Open


class BookingPolicy:
    def __init__(self, *, business: Business, replies: dict[str, str], today: date) -> None:
        self.business = business
        self.replies = replies
        self.today = today
        self.words = ReplyRenderer(business=business, replies=replies, today=today)

    def _day(self, day: date) -> str:
        return self.words.day(day)

    def _slot_args(self, state: DialogState, slot: Slot) -> dict[str, Any]:
        assert state.service is not None
        return self.words.slot_args(state.service, slot, state.name)

    # -- the caller spoke ---------------------------------------------------------------
    def decide(self, state: DialogState, u: Understanding) -> Decision:
        if u.wants_human:
            return Say("transfer", end_call=True, outcome="transferred")
        if u.unsure and state.asked not in ("name", "phone") and not (
                u.has_slot_info or u.affirm or u.name or u.phone):
            return self._on_unsure(state)
        if u.name and (state.asked == "name" or not state.name):
            state.name = u.name
        if u.phone:
            state.phone = u.phone
            state.phone_settled = True

        if state.intent != "book" and state.existing is None and state.asked not in (
            "booking", "name"
        ):
            # The cancel or move is done: what follows is a new request, not the moved slot.
            if state.intent == "reschedule":
                state.service = state.day = state.tod = state.availability = None
                state.forget_slot()
            state.intent = "book"
        in_progress = state.intent == "book" and (state.service or state.day or state.offer)
        moves_existing = u.wants_reschedule and not (
            in_progress and not EXISTING_BOOKING_CHANGE.search(u.text.lower()))
        wanted = "reschedule" if moves_existing else "cancel" if u.wants_cancel else None
        # "Yes, please cancel it" answers the confirmation: look up again only for a new request.
        if wanted and state.offer is None and not (
            wanted == state.intent and state.existing is not None
        ):
            state.intent = wanted
            state.existing, state.existing_options = None, []
            return Find()
        if state.intent in ("cancel", "reschedule") and state.existing is None:
            return self._choose_existing(state, u)
        if state.intent == "cancel" and state.existing is not None:
            return self._on_cancel(state, u)
        if state.offer is not None:
            decision = self._on_offer(state, u)
            if decision is not None:
                return decision
        finished = state.booking or state.booking_pending
        if finished and (u.done or (u.deny and not u.has_slot_info)):
            return Say("goodbye", end_call=True)
        new_request = (u.has_slot_info or u.wants_booking or u.wants_cancel
                       or u.wants_reschedule or u.service_mentioned_unknown)
        if finished and state.asked == "anything" and not new_request:
            # "Thanks" / "great" after "anything else?": nothing more is wanted.
            return Say("ask_anything_else", asked="anything") if u.affirm and not (
                re.search(r"\bthank", u.text.lower())) else Say("goodbye", end_call=True)
        if u.done and not u.has_slot_info and not u.affirm:
            return Say("goodbye", end_call=True)

        self._update_slots(state, u)
        if state.service is None:
            if u.service_mentioned_unknown:
                return Say("unknown_service", asked="service")
            if u.wants_booking or u.day or u.tod:
                return Say("ask_service", asked="service")
            return self._not_understood(state, u)
        if state.day is None:
            if u.understood_anything:
                return Say("ask_day", {"service": state.service.name.lower()}, asked="date")
            return self._not_understood(state, u)
        if state.confirmed and state.offer is not None and state.name:
            return self._book(state)
        return self._next_slot_step(state)

    def _on_unsure(self, state: DialogState) -> Say:
        """A caller who cannot decide: suggest the first free time when times were just
        offered, else another day; the second time, a friendly exit (no transfer, no loop)."""
        state.unsure_count += 1
        if state.unsure_count >= 2:
            if state.booking or state.booking_pending:
                return Say("goodbye", end_call=True)
            return Say("unsure_goodbye", end_call=True, outcome="no_booking")
        fresh = state.availability is not None and state.availability.is_fresh(_time.monotonic())
        if state.asked == "time" and state.offered_times and fresh and state.service:
            slot = state.offered_times[0]
            state.offer, state.confirmed = slot, False
            return Say("suggest_time", self._slot_args(state, slot), asked="confirm")
        state.forget_slot()  # a later "yes" must not book a slot they were unsure of
        return Say("unsure", asked="date")

    def _next_slot_step(self, state: DialogState) -> Decision:
        assert state.service is not None and state.day is not None
        exact = state.tod.exact if state.tod else None
        start = datetime.combine(state.day, exact, tzinfo=self.business.tz) if exact else None
        fresh = state.availability
        if (
            fresh is not None
            and fresh.service == state.service.id
            and fresh.day == state.day
            and fresh.is_fresh(_time.monotonic())
        ):
            return self.after_check(state, fresh, start)
        return Check(state.service.id, state.day, start)

    # -- cancelling and moving an existing booking ---------------------------------------
    def _booking_args(self, booking: Booking) -> dict[str, Any]:
        return self.words.booking_args(booking)

    def after_find(self, state: DialogState, bookings: list[Booking], u: Understanding) -> Decision:
        """The caller's upcoming bookings are known: pick the one they mean, or ask."""
        state.existing_options = sorted(bookings, key=lambda b: b.start)
        if not bookings:
            if state.name and state.asked == "name":
                state.intent = "book"
                return Say("no_booking_found_name", asked="anything")
            return Say("no_booking_found", asked="name")
        return self._choose_existing(state, u)

    def _choose_existing(self, state: DialogState, u: Understanding) -> Decision:
        options = state.existing_options
        if not options:
            return Find(by_name=True) if state.name else Say("no_booking_found", asked="name")
        matches = [b for b in options if self._refers_to(b, u)] or options
        if len(matches) > 1:
            listed = join_words([
                "your {service} on {day} at {time}".format(**self._booking_args(b))
                for b in matches[:3]])
            return Say("which_booking", {"bookings": listed}, asked="booking")
        booking = state.existing = matches[0]
        state.name = state.name or booking.name
        if state.intent == "cancel":
            return Say("confirm_cancel", self._booking_args(booking), asked="confirm")
        return self._move_existing(state, booking, u)

    def _move_existing(self, state: DialogState, booking: Booking, u: Understanding) -> Decision:
        state.service = self.business.service(booking.service)
        local_day = booking.start.astimezone(self.business.tz).date()
        new_day = u.day if u.day and u.day != local_day else None
        if new_day is None and not (u.tod and u.tod.exact):
            return Say("ask_new_day", self._booking_args(booking), asked="date")
        state.day = new_day or local_day
        state.tod = u.tod
        return self._next_slot_step(state)

    def _refers_to(self, booking: Booking, u: Understanding) -> bool:
        if u.service and u.service.id != booking.service:
            return False
        local = booking.start.astimezone(self.business.tz)
        if u.day and u.day != local.date():
            return False
        return bool(u.service or u.day)

    def _on_cancel(self, state: DialogState, u: Understanding) -> Decision:
        assert state.existing is not None
        booking = state.existing
        if u.affirm and not u.deny:
            return Cancel(booking)
        if any(b.id != booking.id and self._refers_to(b, u) for b in state.existing_options):
            state.existing = None  # "no, the one on Friday"
            return self._choose_existing(state, u)
        local = booking.start.astimezone(self.business.tz)
        if (u.day and u.day != local.date()) or (
            u.tod and u.tod.exact and u.tod.exact != local.time()
        ):
            # "can't make it" + "could I do Monday at 11:15 instead?": a move, not a cancel.
            state.intent = "reschedule"
            return self._move_existing(state, booking, u)
        if u.deny or u.done:
            state.intent, state.existing = "book", None
            return Say("keep_booking", asked="anything")
        return self._not_understood(state, u, reask=Say(
            "confirm_cancel", self._booking_args(state.existing), asked="confirm"))

    def _on_offer(self, state: DialogState, u: Understanding) -> Decision | None:
        offer = state.offer
        assert offer is not None
        changed = (u.day and u.day != offer.start.date()) or (
            u.tod and u.tod.exact and u.tod.exact != offer.start.time()
        ) or (u.service and state.service and u.service.id != state.service.id)
        stop = u.deny and not u.phone and _STOP.search(u.text.lower())
        if state.asked == "phone" and state.confirmed and state.name and not changed and not stop:
            return self._book(state)  # with the number given, or the caller ID
        if state.asked == "phone" and not changed:
            state.forget_slot()
            return Say("declined", asked="date")
        if changed:
            state.forget_slot()
            return None
        if state.intent == "reschedule" and u.affirm and not u.deny:
            state.confirmed = True
            return self._book(state)
        if state.asked == "name" and state.confirmed:
            if state.name:
                return self._book(state)
            if not u.deny:
                return self._not_understood(state, u)
        if u.affirm and not u.deny:
            state.confirmed = True
            if not state.name:
                return Say("ask_name", asked="name")
            return self._book(state)
        if u.deny:
            state.forget_slot()
            state.tod = None
            return Say("declined", asked="date")
        if u.name and not state.confirmed:
            return Say(self._confirm_key(state), self._slot_args(state, offer), asked="confirm")
        return self._not_understood(state, u, reask=Say(
            self._confirm_key(state), self._slot_args(state, offer), asked="confirm"
        ))

    @staticmethod
    def _confirm_key(state: DialogState) -> str:
        return "confirm_move" if state.intent == "reschedule" else "confirm"

    def _update_slots(self, state: DialogState, u: Understanding) -> None:
        if state.service is None and u.service is None and len(self.business.services) == 1 and (
                u.wants_booking or u.has_slot_info):
            state.service = self.business.services[0]  # the only thing this business books
        if u.service and (state.service is None or u.service.id != state.service.id):
            state.service = u.service
            state.availability = None
            state.forget_slot()
        if u.day and u.day != state.day:
            # The time asked for still stands: "can you do the 10th instead?" after "3:45 on
            # Wednesday" asks for 3:45 on the 10th (the caller says so when it changes too).
            state.day = u.day
            state.forget_slot()
        if u.tod:
            state.tod = u.tod
            state.forget_slot()

    def _book(self, state: DialogState) -> Decision:
        """Book, once the number to reach the caller is settled (asked once per booking)."""
        assert state.offer is not None and state.service is not None and state.name
        if state.intent != "reschedule" and not state.phone_settled:
            state.phone_settled = True
            if state.caller_phone:
                digits = "".join(ch for ch in state.caller_phone if ch.isdigit())
                return Say("ask_phone", {"last_digits": " ".join(digits[-4:])}, asked="phone")
            return Say("ask_phone_missing", asked="phone")
        return Book(state.service.id, state.offer.start, state.name, state.contact_phone)

    def _not_understood(
        self, state: DialogState, u: Understanding, reask: Say | None = None
    ) -> Decision:
        if u.understood_anything and reask is not None:
            return reask
        state.misunderstandings += 1
        if state.misunderstandings >= MAX_MISUNDERSTANDINGS:
            return Say("transfer", end_call=True, outcome="transferred")
        if reask is not None and state.misunderstandings > 1:
            return reask
        return Open(asked=state.asked)

    # -- a tool answered ---------------------------------------------------------------
    def after_check(
        self,
        state: DialogState,
        avail: Availability,
        start: datetime | None,
        later: list[Slot] | None = None,
    ) -> Say:
        """Turn a fresh availability result into the reply; ``later`` are free slots on the
        following days, used as alternatives when the asked day has none that fit."""
        state.availability = avail
        assert state.service is not None
        service = state.service.name.lower()
        day = self._day(avail.day)
        later = later or []
        if start is not None:
            slot = avail.slot_at(start)
            if slot is not None:
                state.offer = slot
                state.offered_times = [slot]
                key = "confirm_move" if state.intent == "reschedule" else "confirm"
                return Say(key, self._slot_args(state, slot), asked="confirm")
            alternatives = self.nearest(avail.free, start) or later[:2]
            state.offered_times = alternatives
            args = {
                "time": describe_time(start.timetz()),
                "day": day,
                "service": service,
                "alternatives": self.words.alternatives(alternatives),
            }
            if self.business.opening_window(avail.day) is None:
                return Say("closed_day", args, asked="time")
            if not self.business.is_within_hours(state.service.id, start):
                key = "not_a_start_time" if self.business.within_opening(
                    state.service.id, start) else "outside_hours"
                return Say(key, args, asked="time")
            return Say("slot_taken", args, asked="time")
        candidates = avail.free
        part = state.tod.part if state.tod else None
        if part:
            lo, hi = PARTS_OF_DAY[part]
            candidates = [s for s in candidates if lo <= s.start.time() < hi]
        if not candidates:
            alternatives = (avail.free or later)[:2]
            state.offered_times = alternatives
            args = {"day": day, "service": service,
                    "alternatives": self.words.alternatives(alternatives)}
            if self.business.opening_window(avail.day) is None:
                return Say("closed_day", args, asked="time")
            return Say("no_times_day", args, asked="time")
        picks = self.spread(candidates)
        state.offered_times = picks
        return Say("offer_times", {"service": service, "day": day,
                                   "times": self.words.times(picks)}, asked="time")

    def needs_later_days(self, avail_free: list[Slot], state: DialogState) -> bool:
        """Whether the asked day alone cannot give the caller a choice."""
        part = state.tod.part if state.tod else None
        if part:
            lo, hi = PARTS_OF_DAY[part]
            avail_free = [s for s in avail_free if lo <= s.start.time() < hi]
        return not avail_free

    @staticmethod
    def nearest(free: list[Slot], start: datetime, n: int = 2) -> list[Slot]:
        ranked = sorted(free, key=lambda s: (abs((s.start - start).total_seconds()), s.start))
        return sorted(ranked[:n], key=lambda s: s.start)

    @staticmethod
    def spread(free: list[Slot], n: int = MAX_OFFERED_TIMES) -> list[Slot]:
        if len(free) <= n:
            return list(free)
        step = (len(free) - 1) / (n - 1)
        return [free[round(i * step)] for i in range(n)]
