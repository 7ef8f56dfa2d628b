"""Spoken dates and times, resolved against a fixed clock: today is Monday 2026-11-23."""

from datetime import date, time

import pytest

from voice_agent.dialog.timeparse import (
    TimeOfDay,
    describe_day,
    describe_time,
    parse_date,
    parse_time,
)

TODAY = date(2026, 11, 23)  # a Monday


def test_today_is_a_monday() -> None:
    assert TODAY.weekday() == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # weekdays: bare = first one after today; "next" = in next calendar week
        ("next Tuesday", date(2026, 12, 1)),
        ("Next Tuesday at 3 pm.", date(2026, 12, 1)),
        ("Tuesday", date(2026, 11, 24)),
        ("on Tuesday", date(2026, 11, 24)),
        ("this Monday", date(2026, 11, 23)),
        ("Monday", date(2026, 11, 30)),  # a bare weekday is never today
        ("next Monday", date(2026, 11, 30)),
        ("Friday afternoon", date(2026, 11, 27)),
        ("a week on Friday", date(2026, 12, 4)),
        ("next week", date(2026, 11, 30)),
        # relative days
        ("today", TODAY),
        ("tomorrow morning", date(2026, 11, 24)),
        ("the day after tomorrow", date(2026, 11, 25)),
        ("tonight", TODAY),
        # day of month: next on or after today
        ("the 8th", date(2026, 12, 8)),
        ("the 23rd", TODAY),
        ("the 30th", date(2026, 11, 30)),
        ("the twenty-first", date(2026, 12, 21)),
        ("on the first", date(2026, 12, 1)),
        # months without a year: next occurrence
        ("December 1st at half past four", date(2026, 12, 1)),
        ("December 25", date(2026, 12, 25)),
        ("25 December", date(2026, 12, 25)),
        ("dec. 3rd", date(2026, 12, 3)),
        ("the first of December", date(2026, 12, 1)),
        ("January 5th", date(2027, 1, 5)),
        ("November 20th", date(2027, 11, 20)),  # already past this year
        ("May 8th", date(2027, 5, 8)),
        ("the 8th of May", date(2027, 5, 8)),
        # numeric
        ("12/4", date(2026, 12, 4)),
        ("2026-12-01", date(2026, 12, 1)),
    ],
)
def test_parse_date(text: str, expected: date) -> None:
    assert parse_date(text, TODAY) == expected


@pytest.mark.parametrize(
    "text",
    [
        "I need 2 people",
        "Hi, I'd like to book a haircut.",
        "3 pm",
        "half past four",
        "yes please",
        "this week",
    ],
)
def test_parse_date_none_when_no_date(text: str) -> None:
    assert parse_date(text, TODAY) is None


def test_may_the_verb_is_not_the_month() -> None:
    # Regression: "may" was read as the month, turning the 8th into 8 May next year.
    assert parse_date("May I book for the 8th?", TODAY) == date(2026, 12, 8)
    assert parse_date("May I come in on Tuesday", TODAY) == date(2026, 11, 24)


@pytest.mark.parametrize("text", ["I'll take the first available", "first thing, please"])
def test_ordinal_word_in_a_phrase_is_not_a_day(text: str) -> None:
    # Regression: "the first available" resolved to December 1st.
    assert parse_date(text, TODAY) is None


def test_first_thing_tomorrow_is_tomorrow() -> None:
    assert parse_date("first thing tomorrow", TODAY) == date(2026, 11, 24)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3 pm", time(15, 0)),
        ("3 p.m.", time(15, 0)),
        ("15:00", time(15, 0)),
        ("10:30 am", time(10, 30)),
        ("4.30", time(16, 30)),
        ("half past four", time(16, 30)),
        ("half pass four", time(16, 30)),  # STT slip
        ("December 1st at half past four", time(16, 30)),
        ("quarter past ten", time(10, 15)),
        ("quarter to five", time(16, 45)),
        ("four o'clock", time(16, 0)),
        ("ten thirty", time(10, 30)),
        ("at 3", time(15, 0)),  # 1-7 without am/pm is pm
        ("around 4", time(16, 0)),
        ("at five", time(17, 0)),
        ("at 8", time(8, 0)),  # 8-11 is am
        ("by 11", time(11, 0)),
        ("at 12", time(12, 0)),
        ("noon", time(12, 0)),
        ("at midday", time(12, 0)),
        ("at 9 in the evening", time(21, 0)),
        ("at 7 in the morning", time(7, 0)),
        ("at 2 in the afternoon", time(14, 0)),
        ("3 in the afternoon will be great", time(15, 0)),
        ("eleven in the morning", time(11, 0)),
        ("six this evening", time(18, 0)),
        ("Next Tuesday at 3 pm.", time(15, 0)),
    ],
)
def test_parse_exact_time(text: str, expected: time) -> None:
    tod = parse_time(text)
    assert tod is not None
    assert tod.exact == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Regression: "quarter to" subtracted the hour before reading am/pm.
        ("quarter to one", time(12, 45)),
        ("quarter to eight", time(7, 45)),
        ("quarter to twelve", time(11, 45)),
        ("quarter to 8 pm", time(19, 45)),
        # Regression: "4 pm" matched before "half past 4", dropping the half hour.
        ("half past 4 pm", time(16, 30)),
        ("quarter past 10 am", time(10, 15)),
    ],
)
def test_parse_time_quarter_and_half_with_meridiem(text: str, expected: time) -> None:
    tod = parse_time(text)
    assert tod is not None and tod.exact == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Good night, the next Monday, at 11.15.", time(11, 15)),  # audio eval: read as 11:15 pm
    ("Good afternoon, I'd like a check-up on Friday at 10.", time(10, 0)),
    ("Good morning! Friday at 2 works.", time(14, 0)),
    ("Hi good morning I need something at 4", time(16, 0)),
])
def test_a_greeting_names_no_part_of_the_day(text: str, expected: time) -> None:
    tod = parse_time(text)
    assert tod is not None and tod.exact == expected and tod.part is None


@pytest.mark.parametrize(("text", "part"), [
    ("Do you have a good morning slot on Friday?", "morning"),
    ("Hello, good morning, is Friday afternoon free?", "afternoon"),
    ("Friday is good. Morning please.", "morning"),
])
def test_a_part_of_the_day_asked_for_beside_a_greeting_is_kept(text: str, part: str) -> None:
    tod = parse_time(text)
    assert tod is not None and tod.part == part


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ("tomorrow morning", "morning"),
        ("Friday afternoon", "afternoon"),
        ("in the evening", "evening"),
        ("tonight", "evening"),
    ],
)
def test_part_of_day_without_time(text: str, part: str) -> None:
    assert parse_time(text) == TimeOfDay(exact=None, part=part)


@pytest.mark.parametrize(
    "text",
    [
        "I need 2 people",
        "for 3 people",
        "I have 3 kids",
        "next Tuesday",
        "the 8th",
        "12/4",
        "yes please",
        "my number is 555 1234",
    ],
)
def test_parse_time_none_when_no_time(text: str) -> None:
    assert parse_time(text) is None


def test_describe_day() -> None:
    assert describe_day(TODAY, TODAY) == "today"
    assert describe_day(date(2026, 11, 24), TODAY) == "tomorrow"
    assert describe_day(date(2026, 12, 1), TODAY) == "Tuesday, December 1"
    assert describe_day(date(2027, 1, 5), TODAY) == "Tuesday, January 5"


@pytest.mark.parametrize(
    ("value", "spoken"),
    [
        (time(15, 0), "3 PM"),
        (time(10, 30), "10:30 AM"),
        (time(12, 0), "12 PM"),
        (time(0, 15), "12:15 AM"),
        (time(9, 5), "9:05 AM"),
    ],
)
def test_describe_time(value: time, spoken: str) -> None:
    assert describe_time(value) == spoken


@pytest.mark.parametrize(("text", "expected"), [
    ("1130, please.", time(11, 30)),  # how STT writes "eleven thirty"
    ("930 please", time(9, 30)),
    ("1245 pm", time(12, 45)),
])
def test_compact_quarter_hour_times(text: str, expected: time) -> None:
    tod = parse_time(text)
    assert tod is not None and tod.exact == expected


@pytest.mark.parametrize(("text", "expected"), [
    # audio eval: "Wait, make that 11:45 instead." heard so, and read as 11 am (booked)
    ("Wait. Make that 11-45 instead.", time(11, 45)),
    ("10-30 please", time(10, 30)),
    ("How about 3-15?", time(15, 15)),
])
def test_hyphenated_clock_times_as_stt_writes_them(text: str, expected: time) -> None:
    tod = parse_time(text)
    assert tod is not None and tod.exact == expected


@pytest.mark.parametrize("text", ["between 9-10", "9-12", "call 555-1234", "on 12-15-2026"])
def test_hour_ranges_numbers_and_dates_with_hyphens_are_not_clock_times(text: str) -> None:
    tod = parse_time(text)
    assert tod is None or tod.exact is None


@pytest.mark.parametrize("text", ["in 2030", "at 2026", "the 1st"])
def test_years_and_ordinals_are_not_compact_times(text: str) -> None:
    assert parse_time(text) is None


@pytest.mark.parametrize(("text", "expected"), [
    ("Actually, can we do for PM instead?", time(16, 0)),  # "four PM" as STT writes it
    ("to pm please", time(14, 0)),
    ("330 then", time(15, 30)),
])
def test_stt_homophones_for_hours(text: str, expected: time) -> None:
    tod = parse_time(text)
    assert tod is not None and tod.exact == expected


def test_am_pm_written_against_the_digits_as_whisper_writes_it() -> None:
    from voice_agent.dialog.timeparse import parse_time

    assert parse_time("next tuesday at 3p.m.").exact.hour == 15
    assert parse_time("10a.m. please").exact.hour == 10
