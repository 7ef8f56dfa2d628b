"""Wire formats for the CalDAV connector: iCalendar bodies we PUT, the ones we read back,
the REPORT bodies (free-busy-query, calendar-query) and their multistatus answers.

Pure functions, no I/O. Everything that comes from a server is parsed defensively: a body we
cannot read raises :class:`~connectors.base.MalformedResponseError` (never echoing its text,
which may hold other people's appointments).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree as ET

from icalendar import Calendar, Event

from connectors.base import MalformedResponseError

__all__ = [
    "EventData",
    "build_event",
    "build_hold",
    "calendar_query_body",
    "free_busy_query_body",
    "parse_event",
    "parse_free_busy",
    "parse_hold_booking",
    "parse_multistatus_calendar_data",
    "utc_stamp",
]

PRODID = "-//voice-agent//CalDAV connector//EN"
NS = {"D": "DAV:", "C": "urn:ietf:params:xml:ns:caldav"}
_FREEBUSY_LINE = re.compile(r"^FREEBUSY(?P<params>;[^:]*)?:(?P<value>.*)$", re.IGNORECASE)


def utc_stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


@dataclass(frozen=True, slots=True)
class EventData:
    """The fields of a booking event, as stored in the calendar."""

    uid: str
    start: datetime  # aware UTC
    end: datetime
    service: str
    name: str
    phone: str
    staff: str
    key: str | None


def build_event(data: EventData, *, summary: str) -> bytes:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    event = Event()
    event.add("uid", data.uid)
    event.add("dtstamp", datetime.now(UTC))
    event.add("dtstart", data.start.astimezone(UTC))
    event.add("dtend", data.end.astimezone(UTC))
    event.add("summary", summary)
    event.add("status", "CONFIRMED")
    event.add("transp", "OPAQUE")
    event.add("description", f"Booked by phone. Name: {data.name}. Phone: {data.phone}.")
    event.add("x-va-service", data.service)
    event.add("x-va-name", data.name)
    event.add("x-va-phone", data.phone)
    event.add("x-va-staff", data.staff)
    if data.key:
        event.add("x-va-idempotency-key", data.key)
    cal.add_component(event)
    return cal.to_ical()


def build_hold(*, uid: str, cell_start: datetime, cell: timedelta, booking_uid: str,
               staff: str) -> bytes:
    """A hold: one occupied time cell of one staff member, pointing at its booking event."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", datetime.now(UTC))
    event.add("dtstart", cell_start.astimezone(UTC))
    event.add("dtend", (cell_start + cell).astimezone(UTC))
    event.add("summary", "voice-agent hold")
    event.add("transp", "TRANSPARENT")
    event.add("x-va-booking", booking_uid)
    event.add("x-va-staff", staff)
    cal.add_component(event)
    return cal.to_ical()


def _first_event(body: bytes, what: str) -> Event:
    try:
        cal = Calendar.from_ical(body)
    except (ValueError, IndexError, KeyError):
        raise MalformedResponseError(f"{what}: not iCalendar data") from None
    events = cal.walk("VEVENT")
    if not events:
        raise MalformedResponseError(f"{what}: no VEVENT in the calendar object")
    return events[0]


def _aware(value: object, what: str) -> datetime:
    if not isinstance(value, datetime):
        raise MalformedResponseError(f"{what}: an all-day or missing DTSTART/DTEND")
    if value.tzinfo is None:  # floating time: read as UTC rather than guess
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_event(body: bytes, *, what: str) -> EventData:
    """A booking event (ours, or any event with DTSTART/DTEND) from an iCalendar object."""
    event = _first_event(body, what)
    try:
        start = _aware(event.decoded("dtstart"), what)
        if "dtend" in event:
            end = _aware(event.decoded("dtend"), what)
        else:
            end = start + event.decoded("duration", timedelta())
    except KeyError:
        raise MalformedResponseError(f"{what}: event without DTSTART") from None

    def text(name: str) -> str:
        value = event.get(name)
        return str(value) if value is not None else ""

    return EventData(
        uid=text("uid"), start=start, end=end, service=text("x-va-service"),
        name=text("x-va-name"), phone=text("x-va-phone"), staff=text("x-va-staff"),
        key=text("x-va-idempotency-key") or None,
    )


def parse_hold_booking(body: bytes, *, what: str) -> str:
    """The booking UID a hold points at ("" when the hold names none)."""
    value = _first_event(body, what).get("x-va-booking")
    return str(value) if value is not None else ""


def free_busy_query_body(start: datetime, end: datetime) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav">'
        f'<C:time-range start="{utc_stamp(start)}" end="{utc_stamp(end)}"/>'
        "</C:free-busy-query>"
    )


def calendar_query_body(start: datetime, end: datetime) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
        "<D:prop><D:getetag/><C:calendar-data/></D:prop>"
        '<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
        f'<C:time-range start="{utc_stamp(start)}" end="{utc_stamp(end)}"/>'
        "</C:comp-filter></C:comp-filter></C:filter>"
        "</C:calendar-query>"
    )


def _unfold(text: str) -> list[str]:
    return re.sub(r"\r?\n[ \t]", "", text).splitlines()


def _parse_utc(value: str) -> datetime:
    return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def _parse_duration(value: str) -> timedelta:
    match = re.fullmatch(r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?", value)
    if match is None:
        raise ValueError(value)
    w, d, h, m, s = (int(g) if g else 0 for g in match.groups())
    return timedelta(weeks=w, days=d, hours=h, minutes=m, seconds=s)


def parse_free_busy(body: bytes, *, what: str) -> list[tuple[datetime, datetime]]:
    """Busy periods (UTC) of a VFREEBUSY answer; FBTYPE=FREE periods are skipped."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedResponseError(f"{what}: free-busy answer is not UTF-8") from None
    if "BEGIN:VFREEBUSY" not in text.upper():
        raise MalformedResponseError(f"{what}: free-busy answer has no VFREEBUSY")
    busy: list[tuple[datetime, datetime]] = []
    for line in _unfold(text):
        match = _FREEBUSY_LINE.match(line)
        if match is None:
            continue
        if "FBTYPE=FREE" in (match["params"] or "").upper().replace('"', ""):
            continue
        for period in match["value"].split(","):
            try:
                first, second = period.strip().split("/")
                begin = _parse_utc(first)
                end = _parse_duration(second) + begin if second.startswith("P") else (
                    _parse_utc(second))
            except ValueError:
                raise MalformedResponseError(f"{what}: unreadable FREEBUSY period") from None
            busy.append((begin, end))
    return busy


def parse_multistatus_calendar_data(body: bytes, *, what: str) -> list[tuple[str, str, bytes]]:
    """(href, etag, calendar-data) of every 200 response in a calendar-query multistatus."""
    if b"<!DOCTYPE" in body[:1024].upper() or b"<!ENTITY" in body.upper():
        raise MalformedResponseError(f"{what}: DTDs and entities are not accepted")
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise MalformedResponseError(f"{what}: multistatus is not XML") from None
    out: list[tuple[str, str, bytes]] = []
    for response in root.findall("D:response", NS):
        href = response.findtext("D:href", default="", namespaces=NS)
        for propstat in response.findall("D:propstat", NS):
            status = propstat.findtext("D:status", default="", namespaces=NS)
            if " 200 " not in f"{status} ":
                continue
            etag = propstat.findtext("D:prop/D:getetag", default="", namespaces=NS)
            data = propstat.findtext("D:prop/C:calendar-data", default="", namespaces=NS)
            if data:
                out.append((href, etag, data.encode("utf-8")))
    return out
