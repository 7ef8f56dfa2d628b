"""Resolve spoken dates and times against the business clock, in code.

Small LLMs get date arithmetic wrong, so the dialog never asks them to do it: every
"next Tuesday", "the 8th", "half past four" or "tomorrow morning" is resolved here against
the call's ``now`` in the business timezone. Functions return ``None`` when the text holds
no date (or time); they never guess.

Conventions (documented because callers are ambiguous):
- A bare weekday ("Tuesday", "on Tuesday") is the first such day after today; "this Tuesday"
  is today when today is Tuesday; "next Tuesday" is the Tuesday of next calendar week
  (weeks start on Monday), so on Monday 23 November "next Tuesday" is 1 December;
  "a week on Tuesday" is a week after the bare reading.
- "the 8th" is the next 8th on or after today. A month name without a year is the next
  occurrence on or after today.
- An hour from 1 to 7 without am/pm is read as pm (appointments at 3 mean 15:00), 8–11 as am,
  12 as noon; "morning", "afternoon", "evening" give a part of day without a time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_WEEKDAY_ABBR = {d[:3]: i for i, d in enumerate(WEEKDAYS)} | {"tues": 1, "thur": 3, "thurs": 3}
MONTHS = [
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december",
]
_MONTH_ABBR = {m[:3]: i + 1 for i, m in enumerate(MONTHS)} | {"sept": 9}
_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "noon": 12, "midday": 12,
}
_ORDINAL_WORDS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
    "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
    "nineteenth": 19, "twentieth": 20, "twenty first": 21, "twenty-first": 21,
    "twenty second": 22, "twenty-second": 22, "twenty third": 23, "twenty-third": 23,
    "twenty fourth": 24, "twenty-fourth": 24, "twenty fifth": 25, "twenty-fifth": 25,
    "twenty sixth": 26, "twenty-sixth": 26, "twenty seventh": 27, "twenty-seventh": 27,
    "twenty eighth": 28, "twenty-eighth": 28, "twenty ninth": 29, "twenty-ninth": 29,
    "thirtieth": 30, "thirty first": 31, "thirty-first": 31,
}
_HOUR_WORD = "|".join(_NUMBER_WORDS)
_ORDINAL_ALT = "|".join(sorted(_ORDINAL_WORDS, key=len, reverse=True))
PARTS_OF_DAY = {"morning": (time(0), time(12)), "afternoon": (time(12), time(17)),
                "evening": (time(17), time(23, 59)), "night": (time(17), time(23, 59)),
                "lunchtime": (time(12), time(14))}
# How callers name a part of day besides its own word: "lunch", "over lunch". ("After work"
# is not one: a practice that closes at 5 has no evening, and the caller means its latest.)
_PART_WORDS = ((re.compile(r"\bafter lunch\b"), "afternoon"),
               (re.compile(r"\b(?:lunch ?time|lunch ?hour|(?:over|at|around|for) lunch)\b"),
                "lunchtime"))
# A caller correcting themselves mid-sentence: what follows the marker replaces what came before
# ("Thursday, no sorry, Friday at 10"; "at 2, I mean 2:30").
REPAIR = re.compile(
    r"\b(?:no[\s,]+(?:i'?m[\s,]+)?(?:sorry|wait|actually)|sorry[\s,]+(?:no|i mean)|i mean|"
    r"i meant|or rather|rather|actually[\s,]+(?:make (?:that|it)|no)|make (?:that|it)|"
    r"scratch that|strike that|wait[\s,]+no|let'?s say|change (?:that|it) to|hang on|"
    r"hold on(?! to\b)|on second thoughts?|come to think of it|no\s+no|cancel that)\b")
# "not Tuesday", "not at 3", "I'm busy the 3rd", "I won't be available on the 7th": a day or
# time the caller does not want.
_NOT_WANTED = re.compile(
    r"\b(?:not|busy|unavailable|can'?t do|can'?t make|won'?t be (?:available|free|around|there)|"
    r"(?:am|i'?m) (?:not )?(?:away|out)|except(?: for)?|apart from|other than|"
    r"(?:any ?(?:day|time|one)|anything) but) (?:on |at |for |this |next )?(?:the )?(?=\w)"
    r"((?:\d{1,2}(?:st|nd|rd|th)?|[a-z]+day|tomorrow|today|\d{1,2}(?::\d\d)?(?: ?[ap]m)?)\b)")


@dataclass(frozen=True)
class TimeOfDay:
    """A clock time, or a part of the day when no exact time was given."""

    exact: time | None = None
    part: str | None = None  # morning | afternoon | evening


# "Good morning" and the like greet; they ask for no part of the day ("Good night, next
# Monday at 11.15" was read as 11:15 pm; "Good afternoon, Friday at 10" as 10 pm). A greeting
# opens the text or follows punctuation; "a good morning slot" is not one.
_GREETING = re.compile(
    r"(?:^|(?<=[.!?,;:]))\s*(?:(?:hi|hello|hiya|oh|yes|yeah|and)\s*[,!.]?\s*)?"
    r"good (?:morning|afternoon|evening|night)\b(?!\s+(?:slot|appointment|time|one)s?\b)")


def _norm(text: str) -> str:
    text = _GREETING.sub(" ", text.lower().replace("’", "'"))
    text = re.sub(r"(\d)\s*\.\s*(\d\d)\b", r"\1:\2", text)  # 4.30 -> 4:30
    # STT writes a spoken clock time as "11-45" too; "9-10" stays a range (10 can be an hour)
    text = re.sub(r"\b(\d{1,2})-((?:00|1[3-9]|[2-5]\d))\b(?!-)", r"\1:\2", text)
    text = re.sub(r"(?<![a-z])([ap])\.\s?m\.?", r"\1m", text)  # p.m. -> pm, also "3p.m."
    text = re.sub(r"\bo\s?'?\s?clock\b", "oclock", text)
    text = re.sub(r"\bhalf pass\b", "half past", text)  # a common STT slip
    # a hedged hour: "2ish", "two-ish", "about 3:30 ish" is the hour said
    text = re.sub(rf"\b(\d{{1,2}}(?::\d\d)?|{_HOUR_WORD})\s?-?\s?ish\b", r"\1", text)
    # British "half ten" is half past ten (not "half an hour", "half past", "half day").
    text = re.sub(rf"\bhalf (?!past\b|an?\b|hour\b|day\b)(\d{{1,2}}|{_HOUR_WORD})\b",
                  r"half past \1", text)
    # "afternoon 3", "morning 10", "evening 6:30": a part of day, then a bare hour
    text = re.sub(rf"\b(morning|afternoon|evening|night)(?: at| around)? "
                  rf"(\d{{1,2}}(?::\d\d)?|{_HOUR_WORD})\b(?!\s*(?::|am|pm|oclock|[/.]\d))",
                  r"\2 in the \1", text)
    for pattern, part in _PART_WORDS:  # "over lunch": a part of day
        text = pattern.sub(part, text)
    # "8 at night", "8 in the night", "11 tonight": pm
    text = re.sub(rf"\b(\d{{1,2}}(?::\d\d)?|{_HOUR_WORD}) (?:at|in the) night\b",
                  r"\1 in the evening", text)
    # Homophones STT writes for spoken hours: "four PM" -> "for PM", "two PM" -> "to PM".
    text = re.sub(r"\bfor (am|pm)\b", r"4 \1", text)
    text = re.sub(r"\b(?:to|too) (am|pm)\b", r"2 \1", text)
    return re.sub(r"[,;!?]", " ", text)


def _ordinal_day(text: str) -> int | None:
    """The day of the month: "the 8th", "the eighth", "December third", "the first of".
    A spelled ordinal is a date only when it reads as one ("the first one", "whatever's
    first after 3" are not the 1st)."""
    m = re.search(r"\b(\d{1,2})(?:st|nd|rd|th)\b", text)
    if m:
        return int(m.group(1))
    month = _month_in(text) is not None
    for word in sorted(_ORDINAL_WORDS, key=len, reverse=True):
        if not re.search(rf"\b{word}\b", text) or re.search(
                rf"{word} (time|one|thing|available|opening|free|slot|appointment|of (?:those|"
                rf"them|these|the (?:two|three|times|ones|options|slots)))", text):
            continue
        if re.search(rf"\b{word} (?:week|weekend|{'|'.join(WEEKDAYS)})", text):
            continue  # "the second week of December", "the first Monday in June"
        if month or re.search(rf"\bthe {word}\b|\b{word} of\b", text):
            return _ORDINAL_WORDS[word]
    return None


_MAY_AS_MONTH = re.compile(
    r"\bmay\s+(?:the\s+)?(?:\d|[a-z]+(?:st|nd|rd|th)\b)|\b(?:of|in|\d{1,2}(?:st|nd|rd|th)?)\s+may\b"
)


def _month_in(text: str) -> int | None:
    for i, name in enumerate(MONTHS):
        if name == "may" and not _MAY_AS_MONTH.search(text):
            continue  # "may I book ...": the verb, not the month
        if re.search(rf"\b{name}\b", text):
            return i + 1
    for abbr, num in _MONTH_ABBR.items():
        if re.search(rf"\b{abbr}\b\.?", text) and abbr != "may":
            return num
    return None


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _segments(text: str) -> list[str]:
    """The text cut at self-repair markers, with unwanted mentions dropped; a bare number
    right after a marker is a time ("at 3, actually make it 4")."""
    t = _NOT_WANTED.sub(" ", _norm(text))
    parts = REPAIR.split(t)
    return [parts[0]] + [re.sub(r"^\W*(?=\d)", " at ", p) for p in parts[1:]]


_COUNT = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
_UNIT_DAYS = {"day": 1, "week": 7, "fortnight": 14}
# Offsets count from today, tomorrow or a weekday ("a week from Tuesday", "a fortnight on
# Friday", "a week today"); "four days from the 7th" is how long a stay lasts, not a day.
_OFFSET_FROM = re.compile(rf"\b(?:in )?(an?|one|two|three|four|five|six|\d{{1,2}}) "
                          rf"(day|week|fortnight)s? (from|after|on)? ?((?:next |this )?"
                          rf"(?:{'|'.join(WEEKDAYS)}|today|now|tomorrow)\b.*)")
_OFFSET_IN = re.compile(r"\bin (an?|one|two|three|four|five|six|\d{1,2}) (day|week|fortnight)s?\b")
_ANCHOR_WEEK = re.compile(rf"\b((?:{'|'.join(WEEKDAYS)})|tomorrow|today) (week|fortnight)\b")
# Moving a booking by an amount: "push it back a fortnight", "bring it forward a week",
# "a couple of days later".
_SHIFT = re.compile(
    r"\b(?:(?:push|put|move|bump|shift|knock|bring|delay)\s+(?:it|that|this|(?:my|the|our) \w+)?"
    r"\s*(back|forward|on|later|earlier)?\s*(?:by\s+)?|(?=\S+\s+\S+\s+(?:later|earlier)\b))"
    r"(an?|one|two|three|four|five|six|\d|a couple of) (day|week|fortnight)s?"
    r"(?:\s+(later|earlier|back|forward))?\b")


def shift_days(text: str) -> int | None:
    """How far the caller wants a booking moved, in days (+ later, - earlier), or None."""
    m = _SHIFT.search(_norm(text))
    if not m:
        return None
    direction = m.group(1) or m.group(4)
    if direction is None and not re.search(r"\b(?:push|move|bump|shift|delay)\b", m.group(0)):
        return None
    count = 2 if m.group(2) == "a couple of" else (
        int(m.group(2)) if m.group(2).isdigit() else _COUNT[m.group(2)])
    sign = -1 if direction in ("forward", "earlier") else 1
    return sign * count * _UNIT_DAYS[m.group(3)]


def _offset_date(t: str, today: date) -> date | None:
    """Relative offsets: "a week from Tuesday", "two weeks from today", "in 3 days",
    "Tuesday week" (= a week on Tuesday)."""
    m = _OFFSET_FROM.search(t)
    # "a week on Friday", "a fortnight today"; but "a day on Friday" is not an offset
    joined = m and (m.group(3) in ("from", "after") or (m.group(2) != "day" and (
        m.group(3) == "on" or re.match(r"(?:today|tomorrow)\b", m.group(4)))))
    if m and joined:
        anchor_text = m.group(4)
        anchor = today if re.match(r"\s*(?:today|now)\b", anchor_text) else _plain_date(
            anchor_text, today)
        if anchor is not None:
            n = int(m.group(1)) if m.group(1).isdigit() else _COUNT[m.group(1)]
            return anchor + timedelta(days=n * _UNIT_DAYS[m.group(2)])
    m = _OFFSET_IN.search(t)
    if m:
        n = int(m.group(1)) if m.group(1).isdigit() else _COUNT[m.group(1)]
        return today + timedelta(days=n * _UNIT_DAYS[m.group(2)])
    m = _ANCHOR_WEEK.search(t)
    if m:
        anchor = _plain_date(m.group(1), today)
        return anchor + timedelta(days=_UNIT_DAYS[m.group(2)]) if anchor else None
    return None


def parse_date(text: str, today: date) -> date | None:
    """The calendar date the text names, resolved against ``today`` (business-local).

    When the caller corrects themselves, the last day mentioned after the correction wins;
    a day they say they do not want ("not Tuesday") is not read, and a week named with a
    weekday left out ("next week, any day but Monday") starts on the first day not left out."""
    excluded = excluded_weekdays(text)
    for segment in reversed(_segments(text)):
        found = _offset_date(segment, today) or _plain_date(segment, today)
        if found is not None:
            if excluded and re.search(r"\bweek\b", segment) and _weekday_in(segment) is None:
                if _AWAY.search(_norm(text)):
                    return None  # "I'm away next week except Monday": Monday is the one left
                while found.weekday() in excluded and len(excluded) < 7:
                    found += timedelta(days=1)
            return found
    return None


_AWAY = re.compile(r"\b(?:away|busy|out|unavailable|not (?:free|available|around))\b")


def excluded_weekdays(text: str) -> set[int]:
    """Weekdays the caller rules out: "any day but Monday", "except Friday", "not Tuesday"."""
    found = (_weekday_in(m.group(1)) for m in _NOT_WANTED.finditer(_norm(text)))
    return {d for d in found if d is not None}


def mentioned_days(text: str, today: date) -> list[date]:
    """Every distinct day the text names, in order ("move it from Tuesday to Thursday")."""
    days: list[date] = []
    for segment in _segments(text):
        offset = _offset_date(segment, today)
        if offset is not None:  # "a week from Tuesday" is one day, not two
            days += [offset] if offset not in days else []
            continue
        for clause in re.split(r"[,;]|\b(?:and|to|from|instead of|rather than|or|but|then)\b",
                               segment):
            found = _offset_date(clause, today) or _plain_date(clause, today)
            if found is not None and found not in days:
                days.append(found)
    return days


_TARGET = re.compile(r"\b(?:to|onto|until|till|for|instead)\s+(.{1,30})")


def target_days(text: str, today: date) -> list[date]:
    """Days named as a destination ("move it to Wednesday", "push it back to the 10th")."""
    days: list[date] = []
    for segment in _segments(text):
        for m in _TARGET.finditer(segment):
            head = re.split(r"[,;]|\b(?:and|but|from|because)\b", m.group(1))[0]
            found = _offset_date(head, today) or _plain_date(head, today)
            if found is not None and found not in days:
                days.append(found)
    return days


_NTH = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
_NTH_WEEKDAY = re.compile(rf"\b(first|second|third|fourth|last) ({'|'.join(WEEKDAYS)}) "
                          rf"(?:in|of) ({'|'.join(MONTHS)})\b")
# "the second week of December": weeks of a month are counted more than one way: not read.
_NTH_WEEK = re.compile(r"\b(?:first|second|third|fourth|last|1st|2nd|3rd|4th) week (?:of|in)\b")


def _nth_weekday(t: str, today: date) -> date | None:
    """"The first Monday in December", "the last Friday of January"."""
    m = _NTH_WEEKDAY.search(t)
    if m is None:
        return None
    n, weekday, month = _NTH[m.group(1)], WEEKDAYS.index(m.group(2)), MONTHS.index(m.group(3)) + 1
    for year in (today.year, today.year + 1):
        days = [date(year, month, d) for d in range(1, 32)
                if _safe_date(year, month, d) and date(year, month, d).weekday() == weekday]
        found = days[n - 1] if n > 0 else days[-1]
        if found >= today:
            return found
    return None


def _plain_date(text: str, today: date) -> date | None:
    t = _norm(text)
    nth = _nth_weekday(t, today)
    if nth is not None or _NTH_WEEK.search(t):
        return nth
    if re.search(r"\bday after tomorrow\b", t):
        return today + timedelta(days=2)
    if re.search(r"\btomorrow\b", t):
        return today + timedelta(days=1)
    if re.search(r"\b(today|this (morning|afternoon|evening)|tonight)\b", t):
        return today
    m = re.search(r"\b(\d{4})-(\d{2})-(\d{2})\b", t)
    if m:
        return _safe_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    month = _month_in(t)
    m = re.search(r"\b(\d{1,2})/(\d{1,2})\b", t)
    if m and month is None:  # US style month/day
        month, day = int(m.group(1)), int(m.group(2))
    else:
        day = _ordinal_day(t)
        if day is None and month is not None:
            m2 = re.search(rf"\b(?:{'|'.join(MONTHS)}|{'|'.join(_MONTH_ABBR)})\.? (\d{{1,2}})\b", t)
            if m2:
                day = int(m2.group(1))
            else:
                m3 = re.search(r"\b(\d{1,2}) (?:of )?(?:" + "|".join(MONTHS) + ")", t)
                day = int(m3.group(1)) if m3 else None
    if day is not None and month is not None:
        for year in (today.year, today.year + 1):
            d = _safe_date(year, month, day)
            if d and d >= today:
                return d
        return None
    weekday = _weekday_in(t)
    if weekday is not None and day is not None and re.search(
            rf"\b{WEEKDAYS[weekday]},?\s+(?:the\s+)?(?:\d{{1,2}}(?:st|nd|rd|th)|{_ORDINAL_ALT})\b",
            t):
        # "Saturday the fifth": the next 5th, if it is a Saturday; otherwise the caller has
        # the day or the date wrong, and neither is taken
        d = _next_day_of_month(day, today)
        return d if d is not None and d.weekday() == weekday else None
    if weekday is not None:
        delta = (weekday - today.weekday()) % 7
        if re.search(rf"\bthis {WEEKDAYS[weekday]}", t) or re.search(r"\bthis (com|week)", t):
            return today + timedelta(days=delta)
        if re.search(rf"\b(a )?week (on|from) {WEEKDAYS[weekday]}|\ba week {WEEKDAYS[weekday]}", t):
            return today + timedelta(days=(delta or 7) + 7)
        if re.search(rf"\b{WEEKDAYS[weekday]}s? after next\b|\bweek after next\b", t):
            next_monday = today + timedelta(days=7 - today.weekday())
            return next_monday + timedelta(days=7 + weekday)
        if re.search(rf"\bnext {WEEKDAYS[weekday]}", t) or re.search(r"\bnext week\b", t):
            next_monday = today + timedelta(days=7 - today.weekday())
            return next_monday + timedelta(days=weekday)
        return today + timedelta(days=delta or 7)
    if day is not None:
        return _next_day_of_month(day, today)
    if re.search(r"\bweek after next\b", t):
        return today + timedelta(days=14 - today.weekday())
    if re.search(r"\bnext week\b", t):
        return today + timedelta(days=7 - today.weekday())
    return None


def _next_day_of_month(day: int, today: date) -> date | None:
    year, month = today.year, today.month
    for _ in range(3):
        d = _safe_date(year, month, day)
        if d and d >= today:
            return d
        month, year = (1, year + 1) if month == 12 else (month + 1, year)
    return None


def _weekday_in(text: str) -> int | None:
    for i, name in enumerate(WEEKDAYS):
        if re.search(rf"\b{name}s?\b", text):
            return i
    for abbr, i in _WEEKDAY_ABBR.items():
        if re.search(rf"\b{abbr}\b\.?", text) and abbr not in {"sat", "sun", "wed", "mon"}:
            return i
    return None


_TIME_PATTERNS: list[tuple[str, str]] = [
    (r"\b(\d{1,2}):(\d{2})\s*(am|pm)?\b", "hm"),
    # before "4 pm", so that "half past 4 pm" keeps its half hour
    (rf"\bhalf past (\d{{1,2}}|{_HOUR_WORD})\b", "half"),
    (rf"\bquarter past (\d{{1,2}}|{_HOUR_WORD})\b", "qpast"),
    (rf"\bquarter (?:to|til) (\d{{1,2}}|{_HOUR_WORD})\b", "qto"),
    # "ten past nine", "twenty to three", "ten after four" (not "from ten to four")
    # "ten past nine", "20 past 4", "twenty to three", "ten after four"; digits only before
    # "past" / "after" ("5 to 7" is a range), never after "from" ("from ten to four")
    (rf"(?<!from )\b(five|ten|twenty|twenty[- ]five|5|10|20|25)(?: minutes)? (past|after) "
     rf"(\d{{1,2}}|{_HOUR_WORD})\b(?!\s*(?::|minutes|hours|people))", "mins"),
    # ("ten till twelve" may be a range: "till" only after minutes no hour has)
    (rf"(?<!from )\b(?:(five|ten|twenty|twenty[- ]five)(?: minutes)? (to)|"
     rf"(twenty|twenty[- ]five)(?: minutes)? (til|till)) "
     rf"(\d{{1,2}}|{_HOUR_WORD})\b(?!\s*(?::|minutes|hours|people))", "mins_to"),
    (r"\b(\d{1,2})\s*(am|pm)\b", "h_ap"),
    (rf"\b({_HOUR_WORD}) (thirty|fifteen|forty[- ]five|oclock)\b", "word_min"),
    (rf"\b({_HOUR_WORD})\s*(am|pm)\b", "h_ap"),
    # "3 in the afternoon", "eleven in the morning", "six this evening"
    (rf"\b(\d{{1,2}}|{_HOUR_WORD}) (?:(?:in the|this) (?:morning|afternoon|evening)|tonight)\b",
     "h"),
    (rf"\b(?:at|around|about|for|by|do|say) (\d{{1,2}}|{_HOUR_WORD})\b"
     r"(?!\s*[/:]|\s+(?:minutes|hours|people|persons|of|days|weeks|nights)\b)", "h"),
    (rf"\b(\d{{1,2}}|{_HOUR_WORD}) oclock\b", "h"),
    (r"\b(noon|midday)\b", "h"),
    # STT writes "eleven thirty" as "1130": quarter-hour times only, so years stay years.
    (r"\b(1[0-2]|0?[1-9])(00|15|30|45)\b(?!\s*(?:st|nd|rd|th)\b)", "hm_compact"),
]
_WORD_MINUTES = {"thirty": 30, "fifteen": 15, "forty five": 45, "forty-five": 45}
_MINUTE_WORDS = {"five": 5, "ten": 10, "twenty": 20, "twenty five": 25}


def _hour(token: str) -> int:
    return int(token) if token.isdigit() else _NUMBER_WORDS[token]


def _apply_meridiem(hour: int, minute: int, ap: str | None, part: str | None) -> time | None:
    if hour > 23 or minute > 59:
        return None
    if ap == "pm" and hour < 12:
        hour += 12
    elif ap == "am" and hour == 12:
        hour = 0
    elif ap is None and hour <= 12:
        if part in ("afternoon", "evening", "night") and hour < 12:
            hour += 12
        elif part == "lunchtime" and 1 <= hour <= 7:
            hour += 12
        elif part is None and 1 <= hour <= 7:
            hour += 12
    return time(hour, minute)


def clock_time(hour: int, minute: int, part: str | None = None) -> time | None:
    """A clock time said without am or pm, read as a caller means it (1-7 is afternoon,
    unless the part of the day says otherwise)."""
    return _apply_meridiem(hour, minute, None, part)


def parse_time(text: str) -> TimeOfDay | None:
    """The time of day the text names: an exact clock time or a part of day. When the caller
    corrects themselves, the last time mentioned after the correction wins."""
    segments = _segments(text)
    found = [_plain_time(s) for s in segments]
    exact = next((f for f in reversed(found) if f is not None and f.exact is not None), None)
    if exact is not None:
        return exact
    return next((f for f in reversed(found) if f is not None), None)


def _plain_time(text: str) -> TimeOfDay | None:
    t = _norm(text)
    part = next((p for p in PARTS_OF_DAY if re.search(rf"\b{p}s?\b", t)), None)  # "mornings"
    if re.search(r"\btonight\b", t):
        part = "evening"
    ap_any = re.search(r"\b(am|pm)\b", t)
    for pattern, kind in _TIME_PATTERNS:
        m = re.search(pattern, t)
        if not m:
            continue
        ap, before = None, 0
        if kind == "hm":
            hour, minute, ap = int(m.group(1)), int(m.group(2)), m.group(3)
        elif kind == "hm_compact":
            hour, minute = int(m.group(1)), int(m.group(2))
        elif kind == "h_ap":
            hour, minute, ap = _hour(m.group(1)), 0, m.group(2)
        elif kind == "half":
            hour, minute = _hour(m.group(1)), 30
        elif kind == "qpast":
            hour, minute = _hour(m.group(1)), 15
        elif kind == "qto":  # am/pm is read on the named hour: "quarter to one" is 12:45
            hour, minute, before = _hour(m.group(1)), 0, 15
        elif kind in ("mins", "mins_to"):
            said = m.group(1) or m.group(3) if kind == "mins_to" else m.group(1)
            n = _MINUTE_WORDS.get(said.replace("-", " "), 0) or int(said)
            hour = _hour(m.group(5) if kind == "mins_to" else m.group(3))
            minute, before = (n, 0) if kind == "mins" else (0, n)
        elif kind == "word_min":
            hour = _hour(m.group(1))
            word = m.group(2).replace("-", " ")
            minute = 0 if "clock" in word else _WORD_MINUTES[word]
        else:
            hour, minute = _hour(m.group(1)), 0
        if ap is None and ap_any and kind not in ("hm",):
            ap = ap_any.group(1) if abs(ap_any.start() - m.end()) < 12 else None
        exact = _apply_meridiem(hour, minute, ap, part)
        if exact is not None and before:
            total = (exact.hour * 60 + exact.minute - before) % (24 * 60)
            exact = time(total // 60, total % 60)
        if exact is not None:
            return TimeOfDay(exact=exact, part=part)
    if part:
        return TimeOfDay(part=part)
    return None


def combine(day: date, tod: time, tz) -> datetime:
    return datetime.combine(day, tod, tzinfo=tz)


def describe_day(day: date, today: date) -> str:
    """How the agent says a day: 'today', 'tomorrow', or 'Tuesday, December 1'."""
    if day == today:
        return "today"
    if day == today + timedelta(days=1):
        return "tomorrow"
    return f"{WEEKDAYS[day.weekday()].capitalize()}, {MONTHS[day.month - 1].capitalize()} {day.day}"


def describe_time(t: time) -> str:
    """'3 PM', '10:30 AM'; spoken clearly by TTS."""
    hour = t.hour % 12 or 12
    suffix = "AM" if t.hour < 12 else "PM"
    return f"{hour} {suffix}" if t.minute == 0 else f"{hour}:{t.minute:02d} {suffix}"


# A bare hour, as a caller names one of the times just offered: "ten's fine", "let's go with
# eleven", "2 works". "One" is left out ("the first one"), and so is a count ("two people").
_BARE_HOUR = re.compile(
    r"(?<!option )(?<!number )(?<!not )(?<!than )(?<!of )(?<!the )(?<!\d[:.])"
    r"\b(1[0-2]|[1-9]|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)\b(?!\s*(?:[:./]\d|(?:st|nd|rd|th)\b|minutes?|mins?|hours?|hrs?|"
    r"people|persons|of|days?|weeks?|months?|nights?|years?|guests|adults|kids|children|"
    r"tickets|rooms|%|pounds|dollars|quid|bucks))")


# ... said as a choice: "ten's fine", "let's go with eleven", "2 then", "ten, please"; not
# "I'll bring 2 friends".
_CHOSEN_AFTER = re.compile(r"\s*(?:$|[.!]|'s\b|(?:is|works|would|will|sounds|suits|please|then|"
                           r"fine|ok|okay|for me|one|it is|please)\b)")
_CHOSEN_BEFORE = re.compile(r"(?:^|\b(?:with|take|go for|have|do|say|about|maybe|probably|"
                            r"then|um+|er+|erm|so|oh|yes|yeah|ok|okay))\s*$")


def bare_hour(text: str) -> int | None:
    """The one bare hour (1-12) the text names as a choice, or None (no hour, more than one,
    or a number that counts something)."""
    t = " ".join(_NOT_WANTED.sub(" ", _norm(text)).split())  # "not ten" names no hour to take
    said = list(_BARE_HOUR.finditer(t))
    if len({_hour(m.group(1)) for m in said}) != 1:
        return None  # none, or "two or twelve": not one
    chosen = [m for m in said
              if _CHOSEN_AFTER.match(t, m.end()) or _CHOSEN_BEFORE.search(t[:m.start()])]
    return _hour(chosen[0].group(1)) if chosen else None
