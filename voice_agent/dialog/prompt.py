"""Render the versioned system prompt and the policy's reply templates.

The prompt is two system messages, rendered once per call and byte-identical for the whole
call: first the business (role, services, hours, rules), then the call's clock (today, the
local time, the calendar of the coming days). The business part comes first, and the tool
schemas the chat template appends to the first system message depend on the business only,
so every call to a business starts with the same long prefix that the LLM server can keep
evaluated (vLLM's prefix cache; llama.cpp's last prompt) instead of re-reading ~1,300
tokens per call on a CPU. The sha256 of both parts is recorded on every turn.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from connectors.schedule import Business
from voice_agent.dialog.timeparse import MONTHS, WEEKDAYS

PROMPT_NAME = "receptionist.v2.j2"
CLOCK_NAME = "call_clock.v2.j2"
REPLIES_NAME = "policy_replies.v2.yaml"
_DAY_KEYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@dataclass(frozen=True)
class RenderedPrompt:
    text: str  # the business part: the same for every call to the business
    clock: str  # this call's date, time and calendar
    sha256: str
    version: str

    def messages(self) -> list[dict[str, str]]:
        return [{"role": "system", "content": self.text},
                {"role": "system", "content": self.clock}]


def _long_date(d) -> str:
    weekday, month = WEEKDAYS[d.weekday()].capitalize(), MONTHS[d.month - 1].capitalize()
    return f"{weekday} {d.isoformat()} ({month} {d.day})"


def calendar_lines(now: datetime, days: int = 14) -> list[str]:
    """'Tue 2026-12-01 = next Tuesday' lines: the model reads dates, never computes them."""
    today = now.date()
    next_monday = today + timedelta(days=7 - today.weekday())
    lines = []
    for i in range(days):
        d = today + timedelta(days=i)
        names = []
        if i == 0:
            names.append("today")
        elif i == 1:
            names.append("tomorrow")
        if 0 < i < 7:
            names.append(f"this {WEEKDAYS[d.weekday()].capitalize()}")
        if next_monday <= d < next_monday + timedelta(days=7):
            names.append(f"next {WEEKDAYS[d.weekday()].capitalize()}")
        label = ", ".join(names) if names else WEEKDAYS[d.weekday()].capitalize()
        lines.append(f"{_long_date(d)} = {label}")
    return lines


def render_system_prompt(prompts_dir: Path, business: Business, now: datetime) -> RenderedPrompt:
    env = Environment(
        loader=FileSystemLoader(prompts_dir), undefined=StrictUndefined, keep_trailing_newline=True
    )
    local_now = now.astimezone(business.tz)
    hours = [
        (WEEKDAYS[i].capitalize(), "-".join(business.hours[k]) if k in business.hours else "closed")
        for i, k in enumerate(_DAY_KEYS)
    ]
    text = env.get_template(PROMPT_NAME).render(business=business, opening_hours=hours)
    clock = env.get_template(CLOCK_NAME).render(
        business=business,
        today_long=_long_date(local_now.date()),
        now_time=local_now.strftime("%H:%M"),
        calendar_lines=calendar_lines(local_now),
    )
    digest = hashlib.sha256(f"{text}\x00{clock}".encode()).hexdigest()
    return RenderedPrompt(text=text, clock=clock, sha256=digest, version=PROMPT_NAME)


def load_replies(prompts_dir: Path, *, texts: bool = False) -> dict[str, str]:
    """The reply templates; with ``texts`` (confirmations by SMS configured) each
    ``<key>@sms`` variant replaces ``<key>``, so what is promised is what is sent."""
    data = {str(k): str(v) for k, v in yaml.safe_load(
        (prompts_dir / REPLIES_NAME).read_text()).items()}
    replies = {k: v for k, v in data.items() if "@" not in k}
    if texts:
        replies |= {k.removesuffix("@sms"): v for k, v in data.items() if k.endswith("@sms")}
    return replies
