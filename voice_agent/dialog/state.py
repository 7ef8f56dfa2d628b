"""What the dialog knows about one call so far."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from connectors.base import Booking, Slot
from connectors.schedule import Service
from voice_agent.dialog.spelling import LaterChoice, LetterScores
from voice_agent.dialog.timeparse import TimeOfDay
from voice_agent.dialog.understanding import Constraint, Understanding

AVAILABILITY_FRESH_S = 120.0


@dataclass
class Availability:
    """A fresh answer from the connector: the free starts of one service on one day."""

    service: str
    day: date
    free: list[Slot]
    checked_at: float  # time.monotonic()
    staff: str | None = None  # the staff member these are the free times of (None: anyone)

    def is_fresh(self, now_mono: float) -> bool:
        return now_mono - self.checked_at < AVAILABILITY_FRESH_S

    def slot_at(self, start: datetime) -> Slot | None:
        return next((s for s in self.free if s.start == start), None)


@dataclass
class DialogState:
    caller_phone: str | None
    service: Service | None = None
    day: date | None = None
    tod: TimeOfDay | None = None
    name: str | None = None
    phone: str | None = None
    offer: Slot | None = None  # the exact slot the caller was asked to confirm
    confirmed: bool = False
    availability: Availability | None = None
    booking: Booking | None = None
    booking_pending: bool = False
    asked: str | None = None  # service | date | time | name | phone | confirm | anything
    misunderstandings: int = 0
    unsure_count: int = 0  # times the caller could not decide
    ended: bool = False
    outcome: str = "no_booking"
    offered_times: list[Slot] = field(default_factory=list)
    intent: str = "book"  # book | cancel | reschedule
    existing: Booking | None = None  # the caller's booking being cancelled or moved
    existing_options: list[Booking] = field(default_factory=list)
    phone_settled: bool = False  # the caller said which number to use (or was asked)
    staff: str | None = None  # the staff member the caller asked for
    then_service: Service | None = None  # to book straight after this one (dialog/follow_on.py)
    constraint: Constraint | None = None  # earliest / after 3 / before noon ...
    for_other: bool = False  # the booking is for someone else (the name is theirs)
    found_by_name: bool = False  # the existing bookings were found by name, not caller ID
    verified: bool = False  # the caller proved the booking is theirs (day + number on it)
    owner_day_said: bool = False  # ... by naming the booking's day
    change_days: list[date] = field(default_factory=list)  # days named with the change request
    change_request: Understanding | None = None  # the turn that asked for the cancel / move
    hours_day: date | None = None  # an open day whose hours were just asked about
    undecided: bool = False  # "I can't make it": cancel or move, the caller has not said
    heard: bool = False  # the caller's words come from speech recognition (a phone line)
    name_spelled: bool = False  # the caller spelled the name on the booking
    spell_asked: bool = False  # the agent asked for the spelling (once per call)
    repeat_asked: set[str] = field(default_factory=set)  # questions asked again as "repeat"
    names_on_file: list[str] = field(default_factory=list)  # on the caller's number's bookings
    name_on_file: bool = False  # the name was taken as the caller's record writes it
    name_logprob: float | None = None  # STT confidence of the turn the name was heard in
    spelling: dict[str, object] | None = None  # the letters heard and their distance to the name
    letter_scores: LetterScores | None = None  # this turn's audio read as the name's letters
    # The last spelled name's rivals being scored in the background (``pipeline/stt.py``):
    # its job number and the scores to come; then the choice they decide when a booking
    # needs it (``dialog/name_choice.py``).
    name_rivals: tuple[int, Awaitable[Mapping[str, Any]]] | None = None
    later_choice: LaterChoice | None = None
    # A garbled answer to the times offered, matched against them (dialog/heard_times.py):
    heard_time: Slot | None = None  # the time asked about ("Did you say 2:30 PM ...?")
    heard_questions: int = 0  # such questions asked in this call
    heard_rejected: list[datetime] = field(default_factory=list)  # times the caller said no to
    heard_event: dict[str, object] | None = None  # this turn's scores, for the turn row

    @property
    def awaits_letters_or_digits(self) -> bool:
        """The caller is spelling a name or saying a number: a few letters or digits at a time,
        with pauses between them that do not end what they are saying."""
        return self.asked in ("spell", "phone")

    @property
    def contact_phone(self) -> str:
        return self.phone or self.caller_phone or ""

    def forget_slot(self) -> None:
        self.offer = None
        self.confirmed = False
