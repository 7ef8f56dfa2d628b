"""The booking policy: deterministic decisions the LLM cannot override.

Given what the caller just said (``Understanding``, the merged reading of the turn) and the
call so far (``DialogState``), the policy decides the next step: a tool that must run
(availability check, lookup, booking), a reply whose exact words matter, or an open turn where
the LLM may answer. It guarantees: a slot is stated as free only from a fresh availability
result; a booking is written only after the caller said yes to one statement of exactly what
will be written (service, day and date, time, staff if asked for, the name); out-of-hours and
unknown services are refused with alternatives; a reading it cannot use is asked about again,
never replaced by the agent's own choice; a caller not understood three times is offered a
human. Changes to existing bookings are ``changes.py``'s; the words are ``replies``'s.
"""

from __future__ import annotations

import dataclasses
import re
import time as _time
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from connectors.base import Booking, Slot
from connectors.schedule import Business
from voice_agent.dialog.changes import ExistingBookings
from voice_agent.dialog.heard_times import HeardTimeQuestions
from voice_agent.dialog.keypad import spoken_digits
from voice_agent.dialog.merge import Conflict
from voice_agent.dialog.name_choice import take_spelling
from voice_agent.dialog.on_file import name_on_file
from voice_agent.dialog.questions import answer_question, day_from_context
from voice_agent.dialog.replies import ReplyRenderer, Say, join_words, with_article
from voice_agent.dialog.slot_picks import bound_words, nearest, spread, twin_free
from voice_agent.dialog.state import Availability, DialogState
from voice_agent.dialog.timeparse import PARTS_OF_DAY, TimeOfDay, clock_time, describe_time
from voice_agent.dialog.understanding import EXISTING_BOOKING_CHANGE, Constraint, Understanding

MAX_MISUNDERSTANDINGS = 3
_STOP = re.compile(r"\b(wait|don'?t book|cancel|stop)\b")
_ANY_TIME = re.compile(r"\b(?:any ?time|whenever|(?:what|which) time|when)\b")  # not "who"
_OTHER_NUMBER = re.compile(r"\b(?:my (?:mobile|cell|other|work|home)|(?:another|other|different) "
                           r"number|my number is|it'?s \d|use \w+ (?:mobile|cell))")

__all__ = ["Book", "BookingPolicy", "Cancel", "Check", "Decision", "Find", "Open", "join_words"]


@dataclass
class Check:
    service: str
    day: date
    start: datetime | None  # exact time asked for, if any
    staff: str | None = None  # only this staff member's free times


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


class BookingPolicy(ExistingBookings, HeardTimeQuestions):
    def __init__(self, *, business: Business, replies: dict[str, str], today: date) -> None:
        self.business = business
        self.replies = replies
        self.today = today
        self.words = ReplyRenderer(business=business, replies=replies, today=today)
        self.lead: list[tuple[str, dict[str, Any]]] = []  # said before this turn's reply

    def _day(self, day: date) -> str:
        return self.words.day(day)

    def _slot_args(self, state: DialogState, slot: Slot) -> dict[str, Any]:
        assert state.service is not None
        args = self.words.slot_args(state.service, slot, state.name)
        if state.staff and slot.staff:
            args["with_staff"] = f" with {slot.staff}"
        return args

    # -- the caller spoke ---------------------------------------------------------------
    def decide(self, state: DialogState, u: Understanding) -> Decision:
        """The next step. An answer to the caller's question goes to ``self.lead``, said
        before the reply whatever the step turns out to be."""
        self.lead = []
        if u.wants_human:
            return Say("transfer", end_call=True, outcome="transferred")
        context_day, state.hours_day = state.hours_day, None  # the context lasts one turn
        u = answer_question(self.words, self.business, state, u, self.lead)
        if (heard := self.answer_heard_time(state, u)) is not None:  # "Did you say 2:30?"
            return heard
        if u.unsure and not u.no_preference and state.asked not in (
                "name", "spell", "phone") and not (
                u.has_slot_info or u.affirm or u.name or u.phone or u.option):
            return self._on_unsure(state)
        self._take_contact(state, u)

        if state.intent != "book" and state.existing is None and state.asked not in (
            "booking", "name", "spell", "phone", "date"
        ):
            # The cancel or move is done: what follows is a new request, not the moved slot.
            if state.intent == "reschedule":
                state.service = state.day = state.tod = state.availability = None
                state.forget_slot()
            state.intent = "book"
        in_progress = state.intent == "book" and (state.service or state.day or state.offer)
        moves_existing = u.wants_reschedule and not (
            in_progress and not EXISTING_BOOKING_CHANGE.search(u.text.lower()))
        wanted = "reschedule" if moves_existing else "cancel" if (
            u.wants_cancel or u.cant_come) else None
        # "Yes, please cancel it" answers the confirmation: look up again only for a new request.
        if wanted and state.offer is None and not (
            wanted == state.intent and state.existing is not None
        ):
            state.intent = wanted
            state.existing, state.existing_options = None, []
            state.found_by_name = state.verified = state.owner_day_said = False
            state.change_days, state.change_request = list(u.days), u
            state.undecided = u.cant_come and not u.wants_cancel  # cancel, or move?
            return Find()
        if state.intent in ("cancel", "reschedule") and (
                state.existing is None or not state.verified):
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
                       or u.wants_reschedule or u.service_mentioned_unknown or u.constraint)
        if finished and state.asked == "anything" and not new_request:
            # "Thanks" / "great" after "anything else?": nothing more is wanted.
            if self.lead:
                return Say("ask_anything_else", asked="anything")
            return Say("ask_anything_else", asked="anything") if u.affirm and not (
                re.search(r"\bthank", u.text.lower())) else Say("goodbye", end_call=True)
        if u.done and not u.has_slot_info and not (u.affirm and (
                state.offer is not None or u.wants_booking)):
            return Say("goodbye", end_call=True)  # "right, okay, that's all I wanted, bye"

        picked = self._picked_option(state, u)
        if picked is not None:
            return self._hold(state, picked)
        if u.tentative == "option" and self._offered(state) and state.service:
            slots = state.offered_times  # "the second one" only the LLM heard: which?
            return Say("which_time", {"day": self._day(slots[0].start.date()),
                                      "times_or": self.words.times(slots, last="or")},
                       asked="time")
        # a bound restated chooses among the times offered; "the latest?" / "the earliest?"
        # asks for the day's, which the offered nearest times need not be: checked below
        restated = u.constraint is not None and u.constraint.kind not in (
            "earliest", "latest") and not (u.tod and u.tod.exact) and not u.day
        if (u.no_preference or restated) and state.asked == "time" and state.service and (
                self._offered(state)):
            # "whatever you have" / "anything before noon is fine": the agent may choose
            c = u.constraint
            fitting = [s for s in state.offered_times if c is None or (
                (c.after is None or s.start.time() >= c.after)
                and (c.before is None or s.start.time() < c.before))]
            if fitting:
                slot = fitting[0]
                return self._hold(state, slot, lead=[("suggest", self._slot_args(state, slot))])

        if u.no_preference and u.constraint is None and not (u.tod and u.tod.exact) and (
                _ANY_TIME.search(u.text.lower())):
            u = dataclasses.replace(u, constraint=Constraint("earliest"))  # "I don't mind when"
        if (heard := self.ask_heard_time(state, u)) is not None:  # a garbled time: "did you say"
            return heard
        if (u.option is None and u.bare_hour and not (u.tod or u.day) and state.asked == "time"
                and state.heard_time is None and self._offered(state)):
            # "ten's fine", and no time offered is at ten: ten o'clock, to be checked; "four's
            # fine" after 4:30 was offered: which of the two (no guess either way)
            hour = clock_time(u.bare_hour, 0, state.tod.part if state.tod else None)
            near = [s for s in state.offered_times if s.start.hour % 12 == u.bare_hour % 12]
            if near and hour is not None:
                return Say("hour_or_offered", {"hour": describe_time(hour), "time": describe_time(
                    near[0].start.timetz())}, asked="time")
            u = dataclasses.replace(u, tod=TimeOfDay(exact=hour))
        self._update_slots(state, u)
        day_from_context(state, u, context_day)
        if state.service is None:
            if u.service_options:  # "a hair appointment": which of the services it begins
                return Say("which_service", {"options": join_words([
                    with_article(self.business.service(sid).name.lower())
                    for sid in u.service_options], last="or")}, asked="service")
            if u.service_mentioned_unknown:
                return Say("unknown_service", asked="service")
            if u.wants_booking or u.day or u.tod or u.constraint:
                return Say("ask_service", asked="service")
            if self.lead:
                return Say("ask_what_to_book", asked="service")
            return self._not_understood(state, u)
        if state.day is None:
            if u.no_preference or (state.constraint and state.constraint.kind == "earliest"):
                state.day = self.today  # "the soonest you have": from today on
                state.constraint = state.constraint or Constraint("earliest")
            elif u.understood_anything or self.lead:
                return Say("ask_day", {"service": state.service.name.lower()}, asked="date")
            else:
                return self._not_understood(state, u)
        return self._next_slot_step(state)

    # -- the two readings disagree ---------------------------------------------------------
    def conflict_matters(self, state: DialogState, conflict: Conflict) -> bool:
        """A disagreement on a slot the next step depends on (not, say, a day mentioned in
        passing while the caller gives their name)."""
        if conflict.slot == "name":
            return state.asked == "name" or (state.offer is not None and not state.name)
        if conflict.slot == "option":
            return self._offered(state)
        if state.asked in ("name", "spell", "phone") and state.offer is not None:
            return False
        return True

    def on_conflict(self, state: DialogState, conflicts: list[Conflict],
                    u: Understanding | None = None) -> Say:
        """Ask about the first disagreement that matters, naming both readings; what both
        readers agreed on is kept (the service said with a disputed day still stands)."""
        self.lead = []
        c = conflicts[0]
        if u is not None and state.intent == "book" and state.offer is None:
            agreed = dataclasses.replace(u, **{x.slot: None for x in conflicts})
            if any(x.slot == "day" for x in conflicts):
                agreed.days = []
            self._take_contact(state, agreed)
            self._update_slots(state, agreed)
        words = {"day": lambda d: self._day(d), "tod": lambda t: describe_time(t.exact),
                 "service": lambda s: with_article(s.name.lower()), "staff": str,
                 "name": str, "option": lambda i: self._option_words(state, i)}[c.slot]
        key, asked = {"day": ("check_day", "date"), "tod": ("check_time", "time"),
                      "option": ("check_time", "time"), "service": ("check_service",
                                                                     "service"),
                      "staff": ("check_staff", "anything"), "name": ("check_name", "name")
                      }[c.slot]
        return Say(key, {"a": words(c.fast), "b": words(c.llm)}, asked=asked)

    def _option_words(self, state: DialogState, option: int) -> str:
        times = state.offered_times
        index = len(times) - 1 if option == -1 else option - 1
        if 0 <= index < len(times):
            return describe_time(times[index].start.timetz())
        return f"option {option}"

    def _take_contact(self, state: DialogState, u: Understanding) -> None:
        """The name on the booking (someone else's when the caller books for them), the number,
        the staff member asked for."""
        if u.for_other and not state.for_other:
            state.for_other = True
            state.name = None  # the caller's own name is not the one on this booking
        if u.name and state.asked != "spell" and (
                state.asked == "name" or not state.name or u.for_other):
            if u.name != state.name:
                # Typed, a spelling is the name; heard, it is checked at the spelling step.
                state.name_spelled = u.name_spelled and not state.heard
            state.name = u.name
            record = name_on_file(u.name, state.names_on_file) if state.heard else None
            if record is not None:  # heard as the caller's record writes it: that spelling
                state.name, state.name_spelled, state.name_on_file = record, True, True
        if u.phone:
            state.phone = u.phone
            state.phone_settled = True
        if u.staff and u.staff != state.staff:
            state.staff = u.staff
            if state.offer is not None and state.offer.staff != u.staff:
                state.forget_slot()
                state.availability = None

    def _offered(self, state: DialogState) -> bool:
        fresh = state.availability is not None and state.availability.is_fresh(_time.monotonic())
        return bool(fresh and state.offered_times)

    def _picked_option(self, state: DialogState, u: Understanding) -> Slot | None:
        """"The second one", "the later one", "ten's fine": one of the times just offered
        (a bare hour only when exactly one offered time is on that hour)."""
        if not self._offered(state) or u.tod or u.day:
            return None
        times = state.offered_times
        if u.option is None:
            on_hour = [s for s in times if u.bare_hour and s.start.minute == 0
                       and s.start.hour % 12 == u.bare_hour % 12]
            return on_hour[0] if len(on_hour) == 1 else None
        index = len(times) - 1 if u.option == -1 else u.option - 1
        return times[index] if 0 <= index < len(times) else None

    def _hold(self, state: DialogState, slot: Slot,
              lead: list[tuple[str, dict[str, Any]]] | None = None) -> Decision:
        """The caller's slot is free: take the name and number, then confirm it all."""
        state.offer, state.confirmed = slot, False
        state.day = slot.start.date()
        state.tod = TimeOfDay(exact=slot.start.timetz().replace(tzinfo=None))
        self.lead += lead or []
        return self._next_for_offer(state, announce=not lead)

    def _next_for_offer(self, state: DialogState, *, announce: bool = False) -> Say:
        offer = state.offer
        assert offer is not None
        args = self._slot_args(state, offer)
        if state.intent == "reschedule":
            return Say("confirm_move", args, asked="confirm")
        if not state.name:
            if state.for_other:
                key = "slot_free_ask_name_other" if announce else "ask_name_other"
            else:
                key = "slot_free_ask_name" if announce else (
                    "ask_name_plain" if self.lead else "ask_name")
            return Say(key, args, asked="name")
        if state.heard and not state.name_spelled and not state.spell_asked:
            # Over the phone a name is taken the way a receptionist takes it: spelled.
            state.spell_asked = True
            return Say("ask_spell_name", args, asked="spell")
        if not state.phone_settled:
            state.phone_settled = True
            if announce:
                self.lead.append(("slot_free", args))
            if state.caller_phone:
                digits = "".join(ch for ch in state.caller_phone if ch.isdigit())
                return Say("ask_phone", {"last_digits": " ".join(digits[-4:])}, asked="phone")
            return Say("ask_phone_keypad" if state.heard else "ask_phone_missing", asked="phone")
        return Say("confirm", args, asked="confirm")

    def _on_unsure(self, state: DialogState) -> Say:
        """"I don't know" is not "no preference": the times are offered again (the agent
        never picks one for the caller); the second time, a friendly exit (no loop)."""
        state.unsure_count += 1
        if state.unsure_count >= 2:
            if state.booking or state.booking_pending:
                return Say("goodbye", end_call=True)
            return Say("unsure_goodbye", end_call=True, outcome="no_booking")
        if state.asked == "time" and state.service and self._offered(state):
            slots = state.offered_times
            state.forget_slot()
            return Say("times_again", {"day": self._day(slots[0].start.date()),
                                       "times": self.words.times(slots)}, asked="time")
        state.forget_slot()  # a later "yes" must not book a slot they were unsure of
        if state.asked == "service" and state.service is None:  # not "what day", then
            return Say("unsure_service", asked="service")
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
            and fresh.staff == state.staff
            and fresh.is_fresh(_time.monotonic())
        ):
            return self.after_check(state, fresh, start)
        return Check(state.service.id, state.day, start, state.staff)

    def _on_offer(self, state: DialogState, u: Understanding) -> Decision | None:
        """A slot is held (free, being confirmed): take the name, the number, the yes."""
        offer = state.offer
        assert offer is not None
        changed = (u.day and u.day != offer.start.date()) or (
            u.tod and u.tod.exact and u.tod.exact != offer.start.time()
        ) or (u.service and state.service and u.service.id != state.service.id) or bool(
            u.constraint) or (u.option is not None and self._picked_option(state, u) not in (
                None, offer))
        stop = u.deny and not u.phone and _STOP.search(u.text.lower())
        if changed:
            state.forget_slot()
            return None
        if self.lead and not (u.name or u.phone or u.affirm or u.deny):
            return self._next_for_offer(state)  # a question answered: the pending one again
        if state.asked == "spell":
            if stop:
                return self._decline(state)
            if not state.name and not u.name:  # not caught, and the spelling gave no name
                return self._not_understood(state, u, reask=Say("clarify_name", asked="name"))
            if take_spelling(state, u.name, u.spelled_letters):
                self.lead.append(("name_spelled", {"name": state.name}))
            # Not spelled, or spelled otherwise than heard: the name stays as heard, and a
            # booking under it goes to review (``ConfidenceRecord.name_unverified``).
            return self._next_for_offer(state)
        if state.asked == "name":
            if state.name and not (u.deny and not u.name):
                return self._next_for_offer(state)
            if u.unsure and not u.name:
                return Say("clarify_name", asked="name")
            if stop or (u.deny and not u.name):
                return self._decline(state)
            if state.heard and not state.spell_asked:
                state.spell_asked = True  # a name not caught over the phone: have it spelled
                return Say("ask_spell_unheard", asked="spell")
            return self._not_understood(state, u, reask=Say(
                "clarify_name", asked="name"))
        if state.asked == "phone":
            if stop:
                return self._decline(state)
            if u.phone is None and not u.affirm and _OTHER_NUMBER.search(u.text.lower()) and (
                    state.misunderstandings < MAX_MISUNDERSTANDINGS - 1):
                state.misunderstandings += 1  # another number offered, not caught: not ours
                return Say("clarify_phone", asked="phone")
            if u.phone and state.heard:  # read back in groups: a misheard digit is put right
                self.lead.append(("phone_read_back", {"digits": spoken_digits(u.phone)}))
            return self._next_for_offer(state)  # the number given, or the caller ID
        if u.affirm and not u.deny:
            state.confirmed = True
            if state.intent != "reschedule" and not state.name:
                return self._next_for_offer(state)
            return self._book(state)
        if u.deny:
            return self._decline(state)
        if u.tentative in ("affirm", "deny"):
            # Only the LLM heard a yes (or a no): ask again rather than book on it.
            self.lead.append(("check_yes", {}))
            return self._next_for_offer(state)
        if u.name and not state.confirmed:
            return self._next_for_offer(state)
        return self._not_understood(state, u, reask=self._next_for_offer(state))

    def _decline(self, state: DialogState) -> Say:
        state.forget_slot()
        state.tod = None
        return Say("declined", asked="date")

    def _update_slots(self, state: DialogState, u: Understanding) -> None:
        if state.service is None and u.service is None and len(self.business.services) == 1 and (
                u.wants_booking or u.has_slot_info or u.constraint):
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
        if u.same_time and state.intent == "reschedule" and state.existing is not None:
            local = state.existing.start.astimezone(self.business.tz)
            state.tod = TimeOfDay(exact=local.time().replace(tzinfo=None))
            state.forget_slot()
        elif u.constraint:
            state.constraint = u.constraint
            state.tod = u.tod if u.tod and not u.tod.exact else None
            state.forget_slot()
        elif u.tod:
            state.tod = u.tod
            if u.tod.exact:
                state.constraint = None
            state.forget_slot()

    def _book(self, state: DialogState) -> Decision:
        """Book what the caller just said yes to (the booking desk sends it to a human when
        there is no number to write it under)."""
        assert state.offer is not None and state.service is not None and state.name
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
        others_free: list[str] | None = None,
    ) -> Decision:
        """Turn a fresh availability result into the reply; ``later`` are free slots on the
        following days, used as alternatives when the asked day has none that fit;
        ``others_free`` the other staff free at ``start`` when the one asked for is not."""
        state.availability = avail
        assert state.service is not None
        service = state.service.name.lower()
        day = self._day(avail.day)
        later = later or []
        with_staff = f" with {state.staff}" if state.staff else ""
        if start is not None:
            slot = avail.slot_at(start)
            if slot is not None:
                state.offered_times = [slot]
                return self._hold(state, slot)
            alternatives = nearest(avail.free, start) or later[:2]
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
                if self.business.within_opening(state.service.id, start):
                    return Say("not_a_start_time", args, asked="time")
                twin = twin_free(avail.free, start)
                if twin is not None:  # "11 PM" at a dentist: 11 AM is offered first
                    closest = nearest([s for s in avail.free if s != twin], start, 1)
                    state.offered_times = sorted([twin, *closest], key=lambda s: s.start)
                    args["alternatives"] = self.words.alternatives(state.offered_times)
                return Say("outside_hours", args, asked="time")
            if state.staff:
                others = [o for o in others_free or [] if o != state.staff]
                args |= {"staff": state.staff,
                         "others": f", but {join_words(others)} is" if others else ""}
                return Say("staff_busy", args, asked="time")
            return Say("slot_taken", args, asked="time")
        candidates = self.fitting(avail.free, state)
        if not candidates:
            first_later = self.fitting(later, state)
            constraint = state.constraint
            if constraint and constraint.kind == "earliest" and first_later:
                slot = first_later[0]
                return self._hold(state, slot, lead=[("first_free", self._slot_args(
                    state, slot) | {"day": self._day(slot.start.date())})])
            alternatives = (first_later or avail.free or later)[:2]
            state.offered_times = alternatives
            args = {"day": day, "service": service, "with_staff": with_staff,
                    "alternatives": self.words.alternatives(alternatives)}
            if self.business.opening_window(avail.day) is None:
                return Say("closed_day", args, asked="time")
            if constraint and constraint.kind in ("after", "before", "between"):
                return Say("no_times_constraint", args | {"bound": bound_words(constraint)},
                           asked="time")
            return Say("no_times_day", args, asked="time")
        constraint = state.constraint
        if len(candidates) == 1 and constraint is not None:
            state.offered_times = candidates  # the only time that fits: no choice to offer
            return self._hold(state, candidates[0])
        if constraint and constraint.kind in ("earliest", "latest"):
            slot = candidates[0] if constraint.kind == "earliest" else candidates[-1]
            key = "first_free" if constraint.kind == "earliest" else "last_free"
            state.offered_times = [slot]
            return self._hold(state, slot, lead=[(key, self._slot_args(state, slot))])
        picks = spread(candidates)
        state.offered_times = picks
        return Say("offer_times", {"service": service, "day": day,
                                   "times": self.words.times(picks)}, asked="time")

    def fitting(self, slots: list[Slot], state: DialogState) -> list[Slot]:
        """The free slots that fit the part of day and the constraint the caller gave."""
        part = state.tod.part if state.tod and not state.tod.exact else None
        if part:
            lo, hi = PARTS_OF_DAY[part]
            slots = [s for s in slots if lo <= s.start.time() < hi]
        c = state.constraint
        if c is not None:
            slots = [s for s in slots if (c.after is None or s.start.time() >= c.after)
                     and (c.before is None or s.start.time() < c.before)]
        return slots

    def needs_later_days(self, avail_free: list[Slot], state: DialogState) -> bool:
        """Whether the asked day alone cannot give the caller a choice."""
        return not self.fitting(avail_free, state)

