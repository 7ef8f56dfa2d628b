"""Schedule types: a business's opening hours, services, durations, slot grid and staff.

Pure data and arithmetic, loaded from the deployment's business YAML files (the
``businesses/`` folder by default; the format is EVAL_FORMAT.md's "Business fixtures").
The connectors and the dialog both import it; it imports nothing of ours.

The format is specified in ``EVAL_FORMAT.md`` ("Business fixtures"). All time arithmetic is done
in UTC so that durations are real elapsed time even on daylight-saving transition days.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, Field, field_validator, model_validator

from connectors.yaml_doc import safe_load

__all__ = [
    "IMPLICIT_STAFF",
    "WEEKDAYS",
    "Business",
    "Service",
    "load_business",
    "load_businesses",
]

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
IMPLICIT_STAFF = "default"
"""Name of the single implicit staff member of a business that lists no staff."""

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_WEEKDAY_NAMES = (
    "Mondays",
    "Tuesdays",
    "Wednesdays",
    "Thursdays",
    "Fridays",
    "Saturdays",
    "Sundays",
)


def _parse_hhmm(value: str) -> time:
    match = _HHMM.match(value)
    if match is None:
        raise ValueError(f"time {value!r} is not in HH:MM (24-hour) format")
    return time(int(match[1]), int(match[2]))


def _normalize(text: str) -> str:
    """Lower-case words only: "Check-up!" -> "check up", "I'd" -> "i d"."""
    return " ".join(re.findall(r"[^\W_]+", text.casefold()))


def _in(haystack: str, term: str) -> bool:
    """``term`` as whole words of ``haystack`` (normalised, space-padded), or its plural."""
    return f" {term} " in haystack or f" {term}s " in haystack


class Service(BaseModel):
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    minutes: int = Field(gt=0)
    aliases: list[str] = Field(default_factory=list)
    # What callers say instead of the name ("my roots done" for colouring): optional, matched
    # like the shared lexicon in voice_agent/dialog/described_needs.yaml.
    described_as: list[str] = Field(default_factory=list)

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.minutes)

    def match_terms(self) -> list[str]:
        """Normalised words that identify this service in free text (id, name, aliases)."""
        terms = {_normalize(t) for t in (self.id, self.name, *self.aliases)}
        return sorted(t for t in terms if t)

    def named_in(self, text: str) -> bool:
        """Whether free text names this service (whole words, as ``Business.find_service``)."""
        haystack = f" {_normalize(text)} "
        return any(_in(haystack, t) for t in self.match_terms())

    def last_named_at(self, text: str) -> int:
        """Where free text last names this service (an offset in its normalised form), or -1:
        of two services named in one breath, the caller usually ends on the one they want."""
        haystack = f" {_normalize(text)} "
        return max((haystack.rfind(f" {w} ") for t in self.match_terms() for w in (t, f"{t}s")),
                   default=-1)


class Business(BaseModel):
    name: str = Field(min_length=1)
    display_name: str = Field(min_length=1)
    timezone: str
    hours: dict[str, tuple[str, str]]
    slot_minutes: int = Field(gt=0)
    services: list[Service] = Field(min_length=1)
    staff: list[str] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "America", "A" * 300
            raise ValueError(f"unknown timezone {value[:60]!r} (expected an IANA key)") from None
        return value

    @field_validator("hours")
    @classmethod
    def _check_hours(cls, value: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
        for day, (opens, closes) in value.items():
            if day not in WEEKDAYS:
                raise ValueError(f"unknown day {day!r} in hours (use {', '.join(WEEKDAYS)})")
            if _parse_hhmm(opens) >= _parse_hhmm(closes):
                raise ValueError(f"hours for {day}: opening {opens} is not before closing {closes}")
        return value

    @model_validator(mode="after")
    def _check_unique(self) -> Business:
        ids = [s.id for s in self.services]
        if len(ids) != len(set(ids)):
            raise ValueError(f"service ids must be unique, got {ids}")
        if len(self.staff) != len(set(self.staff)):
            raise ValueError(f"staff names must be unique, got {self.staff}")
        return self

    # -- lookups -----------------------------------------------------------------------------

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def staff_members(self) -> list[str]:
        """The listed staff, or a single implicit member when none is listed."""
        return list(self.staff) if self.staff else [IMPLICIT_STAFF]

    def service(self, service_id: str) -> Service:
        """The service with this id; ``KeyError`` when there is none."""
        for svc in self.services:
            if svc.id == service_id:
                return svc
        raise KeyError(f"{self.name} has no service {service_id!r}")

    def find_service(self, text: str) -> Service | None:
        """The service named in free text by id, name or alias (whole words, any case).

        "I'd like a trim please" -> haircut. When several match, the longest term wins; a
        trailing plural "s" is tolerated ("two haircuts").
        """
        haystack = f" {_normalize(text)} "
        best: tuple[int, Service] | None = None
        for svc in self.services:
            for term in svc.match_terms():
                if _in(haystack, term):
                    if best is None or len(term) > best[0]:
                        best = (len(term), svc)
        return best[1] if best else None

    # -- opening hours -----------------------------------------------------------------------

    def opening_window(self, day: date) -> tuple[datetime, datetime] | None:
        """Opening and closing time of a local day (aware, business tz); None when closed."""
        hours = self.hours.get(WEEKDAYS[day.weekday()])
        if hours is None:
            return None
        opens, closes = (_parse_hhmm(h) for h in hours)
        return (
            datetime.combine(day, opens, tzinfo=self.tz),
            datetime.combine(day, closes, tzinfo=self.tz),
        )

    def candidate_starts(self, service_id: str, day: date) -> list[datetime]:
        """Grid start times (anchored at opening) where the whole service fits before closing."""
        duration = self.service(service_id).duration
        window = self.opening_window(day)
        if window is None:
            return []
        step = timedelta(minutes=self.slot_minutes)
        start, close = (w.astimezone(UTC) for w in window)
        starts: list[datetime] = []
        while start + duration <= close:
            starts.append(start.astimezone(self.tz))
            start += step
        return starts

    def hours_violation(self, service_id: str, start: datetime, *, on_grid: bool = True
                        ) -> str | None:
        """Why ``start`` can't be booked for the service by opening hours; None when it can.
        ``on_grid=False`` skips the slot-grid check (is the time inside the hours at all?).

        The message is safe to say to a caller.
        """
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        svc = self.service(service_id)
        local = start.astimezone(self.tz)
        window = self.opening_window(local.date())
        if window is None:
            return f"{self.display_name} is closed on {_WEEKDAY_NAMES[local.weekday()]}"
        opens, closes = window
        begin, end = start.astimezone(UTC), start.astimezone(UTC) + svc.duration
        if begin < opens.astimezone(UTC):
            return f"{self.display_name} opens at {opens:%H:%M} that day"
        if end > closes.astimezone(UTC):
            return (
                f"a {svc.name} starting at {local:%H:%M} would end after closing time "
                f"({closes:%H:%M})"
            )
        if on_grid and (begin - opens.astimezone(UTC)) % timedelta(minutes=self.slot_minutes):
            return (
                f"appointments start every {self.slot_minutes} minutes from "
                f"{opens:%H:%M}, so {local:%H:%M} is not a bookable start time"
            )
        return None

    def within_opening(self, service_id: str, start: datetime) -> bool:
        """True when the service fits inside opening hours, whether or not on the grid."""
        return self.hours_violation(service_id, start, on_grid=False) is None

    def is_within_hours(self, service_id: str, start: datetime) -> bool:
        """True when ``start`` is on the grid and the whole service fits inside opening hours."""
        return self.hours_violation(service_id, start) is None


def load_business(path: str | Path) -> Business:
    try:
        data = safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a business file must be a YAML mapping")
    return Business.model_validate(data)


def load_businesses(directory: str | Path) -> dict[str, Business]:
    """All ``*.yaml`` businesses in a directory, keyed by ``name``."""
    businesses: dict[str, Business] = {}
    for path in sorted(Path(directory).glob("*.yaml")):
        business = load_business(path)
        if business.name in businesses:
            raise ValueError(f"{path}: duplicate business name {business.name!r}")
        businesses[business.name] = business
    return businesses

