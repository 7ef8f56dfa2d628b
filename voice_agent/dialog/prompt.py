"""Render the versioned system prompt and the policy's reply templates.

The system prompt is rendered once per call (business + that call's clock) and stays
byte-identical for the whole call so the LLM server can reuse its prompt prefix; what
changes turn by turn is appended as messages. Its sha256 is recorded on every turn.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from voice_agent.business import Business
from voice_agent.dialog.timeparse import MONTHS, WEEKDAYS

PROMPT_NAME = "receptionist.v1.j2"
REPLIES_NAME = "policy_replies.v1.yaml"
_DAY_KEYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@dataclass(frozen=True)
class RenderedPrompt:
    text: str
    sha256: str
    version: str


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
    text = env.get_template(PROMPT_NAME).render(
        business=business,
        today_long=_long_date(local_now.date()),
        now_time=local_now.strftime("%H:%M"),
        opening_hours=hours,
        calendar_lines=calendar_lines(local_now),
    )
    return RenderedPrompt(
        text=text, sha256=hashlib.sha256(text.encode()).hexdigest(), version=PROMPT_NAME
    )


def load_replies(prompts_dir: Path) -> dict[str, str]:
    data = yaml.safe_load((prompts_dir / REPLIES_NAME).read_text())
    return {str(k): str(v) for k, v in data.items()}
