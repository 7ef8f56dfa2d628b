"""The versioned system prompt and the policy's reply templates."""

import hashlib
import re
import string
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from connectors.schedule import Business
from voice_agent.dialog import changes, manager, policy
from voice_agent.dialog import replies as replies_module
from voice_agent.dialog.prompt import (
    PROMPT_NAME,
    calendar_lines,
    load_replies,
    render_system_prompt,
)

PROMPTS = Path(__file__).resolve().parents[2] / "prompts"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("America/New_York"))  # a Monday


def test_render_is_deterministic(salon: Business) -> None:
    a = render_system_prompt(PROMPTS, salon, NOW)
    b = render_system_prompt(PROMPTS, salon, NOW)
    assert a.text == b.text
    assert a.sha256 == b.sha256 == hashlib.sha256(f"{a.text}\x00{a.clock}".encode()).hexdigest()
    assert a.version == PROMPT_NAME


def test_prompt_contents(salon: Business) -> None:
    prompt = render_system_prompt(PROMPTS, salon, NOW)
    text = prompt.text
    assert "Bella Hair Studio" in text
    assert "Today is Monday 2026-11-23 (November 23)." in prompt.clock
    assert "The local time is 09:00 (America/New_York)." in prompt.clock
    assert "- haircut: Haircut, 30 minutes (also called trim, cut)" in text
    assert "- color: Hair colouring, 90 minutes" in text
    assert "- blowdry: Blow-dry, 30 minutes" in text
    assert "- Thursday: 09:00-20:00" in text
    assert "- Sunday: closed" in text
    assert re.search(r"^- Tuesday 2026-12-01 .*= next Tuesday$", prompt.clock, re.MULTILINE)
    assert "- Tuesday 2026-11-24 (November 24) = tomorrow, this Tuesday" in prompt.clock
    for part in (text, prompt.clock):
        assert "{{" not in part and "{%" not in part
    assert prompt.messages() == [{"role": "system", "content": text},
                                 {"role": "system", "content": prompt.clock}]


def test_prompt_uses_business_timezone(dental: Business) -> None:
    prompt = render_system_prompt(PROMPTS, dental, NOW)
    text = prompt.text
    assert "Riverside Dental" in text
    assert "The local time is 14:00 (Europe/London)." in prompt.clock
    assert "- Friday: 08:30-13:00" in text
    assert "scale and polish" in text


def test_hash_changes_with_the_date_only(salon: Business) -> None:
    base = render_system_prompt(PROMPTS, salon, NOW).sha256
    # a turn later in the same call: same minute-level clock gives the same bytes
    assert render_system_prompt(PROMPTS, salon, NOW + timedelta(seconds=20)).sha256 == base
    assert render_system_prompt(PROMPTS, salon, NOW + timedelta(days=1)).sha256 != base


def test_business_part_is_the_same_for_every_call(salon: Business, dental: Business) -> None:
    """What changes per call (the clock) comes second, so the long business prefix, and the
    tool schemas the chat template appends to it, stay evaluated on the LLM server."""
    first = render_system_prompt(PROMPTS, salon, NOW)
    later = render_system_prompt(PROMPTS, salon, NOW + timedelta(days=3, minutes=17))
    assert first.text == later.text
    assert first.clock != later.clock and first.sha256 != later.sha256
    assert render_system_prompt(PROMPTS, dental, NOW).text != first.text
    for clock_mark in ("2026", "Today is", "tomorrow", "local time is"):
        assert clock_mark not in first.text


def test_calendar_lines_match_timeparse_conventions() -> None:
    lines = calendar_lines(NOW)
    assert len(lines) == 14
    assert lines[0] == "Monday 2026-11-23 (November 23) = today"
    assert lines[1] == "Tuesday 2026-11-24 (November 24) = tomorrow, this Tuesday"
    assert lines[7] == "Monday 2026-11-30 (November 30) = next Monday"
    assert lines[8] == "Tuesday 2026-12-01 (December 1) = next Tuesday"
    assert lines[13] == "Sunday 2026-12-06 (December 6) = next Sunday"


def _keys_used_in(module) -> set[str]:
    source = Path(module.__file__).read_text()
    keys = set(re.findall(r'\bSay\(\s*"([a-z_]+)"', source))
    keys |= set(re.findall(r'replies\["([a-z_]+)"\]', source))
    # leads, said before the reply: ("first_free", args), return "answer_closed", {...}
    keys |= set(re.findall(r'\(\s*"([a-z_]+)",\s*(?:\{|self\.|args\b)', source))
    keys |= set(re.findall(r'\breturn\s+"([a-z_]+)",\s*\{', source))
    return keys


def test_replies_have_every_key_the_policy_and_manager_use() -> None:
    replies = load_replies(PROMPTS)
    used = (_keys_used_in(policy) | _keys_used_in(changes) | _keys_used_in(manager)
            | _keys_used_in(replies_module))
    assert {"booked", "slot_taken", "alternatives", "transfer", "verify_day", "first_free",
            "answer_hours_day", "slot_free"} <= used  # grep works
    # keys built at run time: BookingPolicy._next_for_offer (for someone else: "_other"), the
    # conflict question (BookingPolicy.on_conflict), "..._goodbye" when the caller is done
    used |= {"slot_free_ask_name", "ask_name", "slot_free_ask_name_other", "ask_name_other"}
    used |= {"check_day", "check_time", "check_service", "check_staff", "check_name"}
    used |= {f"{k}_goodbye" for k in ("booked", "booking_pending", "rescheduled", "cancelled")}
    assert used - set(replies) == set()


def test_reply_placeholders_are_known() -> None:
    known = {"business", "services", "service", "day", "time", "times", "name", "alternatives",
             "bookings", "last_digits",
             # the v2 templates: articles and staff (ReplyRenderer), answers from business data
             # (hours, durations), the staff-busy and constraint replies, the conflict question
             "a_service", "A_service", "with_staff", "weekday", "opens", "closes", "week",
             "minutes", "durations", "staff", "others", "bound", "a", "b", "times_or",
             "digits",  # a phone number read back in groups (dialog/keypad.py)
             "hour",  # "did you mean 10 AM, or 10:45 AM?"
             "options"}  # "is that for a haircut or a hair colouring?"
    for key, template in load_replies(PROMPTS).items():
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f}
        assert fields <= known, key
