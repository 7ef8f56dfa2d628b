"""``voice-agent eval sgd``: SGD appointment dialogues (Google's Schema-Guided Dialogue dataset,
CC BY-SA 4.0) as call scripts, one generated business fixture per provider. A ``BookAppointment``
answered with ``NOTIFY_SUCCESS`` is the expected booking; ``NOTIFY_FAILURE`` makes the slot busy.
Dates and times: SGD's normalised values ("2019-03-08", "15:30") first, else the parser below."""

from __future__ import annotations

import calendar
import contextlib
import datetime as dt
import json
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

__all__ = ["DEFAULT_SRC", "TODAY", "convert", "parse_date", "parse_time", "slugify"]

# The dev split ships with the repository (CC BY-SA 4.0, see source/README.md); for the train
# split pass the folder that holds train.jsonl.
DEFAULT_SRC = Path(__file__).resolve().parent / "datasets" / "sgd" / "source"
TODAY = dt.date(2019, 3, 1)  # every SGD dialogue's "today" (a Friday)
TZ = ZoneInfo("America/Los_Angeles")
CALLER_NAME = "SGD Caller"
BUSY = {"name": "Existing Client", "phone": "+15550000000"}
SERVICE_ID = "appointment"
OPEN, CLOSE = "08:00", "20:00"
PROVIDER_SLOTS = ("stylist_name", "dentist_name", "doctor_name", "therapist_name", "provider_name")
SERVICE_KINDS = {  # SGD service -> (service name, aliases besides the dialogue's "type" values)
    "Services_1": ("Hair appointment", ["haircut", "hair appointment", "stylist", "hair salon"]),
    "Services_2": ("Dental appointment", ["dentist", "dental appointment", "dental checkup"]),
    "Services_3": ("Doctor's appointment", ["doctor", "doctor's appointment", "checkup"]),
    "Services_4": ("Therapy appointment", ["therapist", "therapy", "therapy session"]),
}

# -- a small parser for SGD's written dates and times -------------------------------------------
_NUM = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven "
                                   "twelve thirteen".split())}
_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
_DAYS = [d.lower() for d in calendar.day_name]
_ORD = r"(\d{1,2})(?:st|nd|rd|th)?"


def parse_date(text: str, today: dt.date = TODAY) -> dt.date | None:
    """ "March 8th", "8th of March", "the 8th", "tomorrow", "next Monday", "Friday next week"."""
    t = " ".join(text.lower().split())
    if m := re.search(r"\d{4}-\d{2}-\d{2}", t):
        return dt.date.fromisoformat(m[0])
    for word, days in (("day after tomorrow", 2), ("tomorrow", 1), ("today", 0), ("tonight", 0)):
        if word in t:
            return today + dt.timedelta(days=days)
    months = "|".join(_MONTHS)
    m = re.search(rf"\b({months})\s+{_ORD}\b", t) or re.search(rf"\b{_ORD} of ({months})\b", t)
    if m:
        month, day = (m[1], m[2]) if m[1] in _MONTHS else (m[2], m[1])
        return _on_or_after(today, int(day), _MONTHS[month])
    if m := re.search(r"\bthe (\d{1,2})\b|\b(\d{1,2})(?:st|nd|rd|th)\b", t):
        return _on_or_after(today, int(m[1] or m[2]), None)
    for i, name in enumerate(_DAYS):
        if not re.search(rf"\b{name}\b", t):
            continue
        ahead = (i - today.weekday()) % 7
        if re.search(rf"next {name}|{name} next week", t):
            return today + dt.timedelta(days=7 - today.weekday() + i)
        if re.search(rf"this {name}|{name} this week", t):
            return today + dt.timedelta(days=ahead)
        return today + dt.timedelta(days=ahead or 7)
    return None


def _on_or_after(today: dt.date, day: int, month: int | None) -> dt.date | None:
    for y, mo in (divmod(today.month - 1 + k, 12) for k in range(13)):
        with contextlib.suppress(ValueError):
            d = dt.date(today.year + y, mo + 1, day)
            if (month is None or mo + 1 == month) and d >= today:
                return d
    return None


def parse_time(text: str) -> dt.time | None:
    """ "15:30", "3:30 pm", "half past 4", "quarter to 5", "morning 11:30", "four pm"."""
    t = " ".join(text.lower().replace('"', "'").replace(".", "").split())
    if m := re.fullmatch(r"(\d\d):(\d\d)", t):  # SGD's canonical 24-hour form
        return dt.time(int(m[1]), int(m[2]))
    if re.search(r"\b(?:noon|midday)\b", t):
        return dt.time(12, 0)
    t = re.sub(r"\b(" + "|".join(_NUM) + r")\b", lambda m: str(_NUM[m[1]]), t)
    if (m := re.search(r"\b(\d{1,2})(?::(\d{2}))?(?!\d)", t)) is None:
        return None
    hour, minute = int(m[1]), int(m[2] or 0)
    if "quarter to" in t:
        hour, minute = hour - 1, 45
    minute = 30 if "half past" in t else 15 if "quarter past" in t else minute
    pm = re.search(r"\bpm\b|afternoon|evening|night", t)
    am = re.search(r"\bam\b|morning", t)
    if hour < 12 and (pm or (not am and 1 <= hour <= 7)):
        hour += 12
    return dt.time(hour, minute) if 0 <= hour < 24 and 0 <= minute < 60 else None


# -- dialogues ---------------------------------------------------------------------------------
def slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "provider"


@dataclass
class Provider:
    """What one generated business must allow, accumulated over the dialogues naming it."""

    display_name: str
    name: str = ""
    kind: str | None = None
    types: set[str] = field(default_factory=set)
    sunday: bool = False
    grid15: bool = False  # some time is not on :00/:30
    tight: bool = False  # a busy slot sits less than 30 min from an expected booking

    def fixture(self) -> dict[str, Any]:
        days = ["mon", "tue", "wed", "thu", "fri", "sat", *(["sun"] if self.sunday else [])]
        service_name, aliases = SERVICE_KINDS.get(self.kind or "", ("Appointment", []))
        return {"name": self.name, "display_name": self.display_name, "timezone": TZ.key,
                "hours": {day: [OPEN, CLOSE] for day in days},
                "slot_minutes": 15 if self.grid15 else 30,
                "services": [{"id": SERVICE_ID, "name": service_name,
                              "minutes": 15 if self.tight else 30,
                              "aliases": sorted({a.lower() for a in self.types} | set(aliases))}]}

    @classmethod
    def from_fixture(cls, data: dict[str, Any]) -> Provider:
        """Seed from a fixture an earlier run (another split) wrote, so both splits fit it."""
        svc = (data.get("services") or [{}])[0]
        kind = next((k for k, v in SERVICE_KINDS.items() if v[0] == svc.get("name")), None)
        return cls(data["display_name"], data["name"], kind, set(svc.get("aliases", [])),
                   "sun" in data.get("hours", {}), data.get("slot_minutes") == 15,
                   svc.get("minutes") == 15)

    def add(self, info: dict[str, Any]) -> None:
        self.kind = self.kind or info["kind"]
        self.types |= info["types"]
        booking = info["booking"]
        starts = info["busy"] + ([booking] if booking else [])
        self.sunday |= any(s.weekday() == 6 for s in starts)
        self.grid15 |= any(s.minute not in (0, 30) for s in starts)
        self.tight |= bool(booking) and any(abs(b - booking) < dt.timedelta(minutes=30)
                                            for b in info["busy"])


def _when(params: dict[str, Any]) -> dt.datetime | None:
    day = parse_date(str(params.get("appointment_date", "")))
    at = parse_time(str(params.get("appointment_time", "")))
    return dt.datetime.combine(day, at, TZ) if day and at else None


def read_dialogue(d: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """The parts of one dialogue a script needs, or None and the reason it is skipped."""
    if len(d.get("services", [])) != 1 or d["services"][0] not in SERVICE_KINDS:
        return None, "not a single Services_* dialogue"
    lines: list[dict[str, str]] = []
    booking_from: int | None = None  # the first caller line of the booking part
    ok: list[tuple[str, dt.datetime]] = []
    failed: list[tuple[str, dt.datetime]] = []
    mentioned, types, confirm_asked = [], set(), False
    for turn in d["turns"]:
        acts = {a["act"] for f in turn["frames"] for a in f["actions"]}
        for frame in turn["frames"]:
            for a in frame["actions"]:
                if a["slot"] in PROVIDER_SLOTS and a["values"]:
                    mentioned.append(a["values"][0])
                if a["slot"] == "type":
                    types.update(a["values"])
            call = frame.get("service_call") or {}
            if turn["speaker"] == "SYSTEM" and call.get("method") == "BookAppointment":
                params, frame_acts = call["parameters"], {a["act"] for a in frame["actions"]}
                who = next((str(params[s]) for s in PROVIDER_SLOTS if params.get(s)), None)
                if who is None or (when := _when(params)) is None:
                    return None, "booking provider/date/time not understood"
                if frame_acts & {"NOTIFY_SUCCESS", "NOTIFY_FAILURE"}:
                    (ok if "NOTIFY_SUCCESS" in frame_acts else failed).append((who, when))
        if turn["speaker"] == "USER":
            intents = {f.get("state", {}).get("active_intent") for f in turn["frames"]}
            if booking_from is None and "BookAppointment" in intents:
                booking_from = len(lines)
            line = {"say": " ".join(turn["utterance"].split())}
            if confirm_asked:  # a yes, a no, or "change the date to the 10th": all answer it
                line["if_asked"] = "confirm"
            lines.append(line)
        confirm_asked = turn["speaker"] == "SYSTEM" and "CONFIRM" in acts
    provider = ([w for w, _ in ok] or [w for w, _ in failed] or mentioned or [None])[-1]
    if len(ok) > 1 or provider is None or not lines:
        return None, ("more than one successful booking" if len(ok) > 1 else
                      "no user turns" if not lines else "no provider named")
    if booking_from is None:
        return None, "no booking request (a provider search only)"
    lines = _booking_part(lines[booking_from:], d["turns"])
    busy = sorted({w for who, w in failed if who == provider})
    last_start = f"{int(CLOSE[:2]) - 1:02d}:30"
    if any(not OPEN <= w.strftime("%H:%M") <= last_start for w in busy + [w for _, w in ok]):
        return None, "time outside the generated opening hours"
    return {"kind": d["services"][0], "provider": provider, "lines": lines, "types": types,
            "booking": ok[0][1] if ok else None, "busy": busy}, ""


def _booking_part(lines: list[dict[str, str]], turns: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The caller's lines from the moment they ask to book. The agent *is* the provider's
    receptionist, so the SGD search for a provider (find me a therapist in Santa Rosa, any
    others?) has no counterpart on this call. A first line that only says yes to the search
    assistant's "shall I book?" becomes a plain request to book."""
    first = lines[0]["say"]
    user_turns = [t for t in turns if t["speaker"] == "USER"]
    opening = user_turns[len(user_turns) - len(lines)]
    gives_slot = any(a["act"] == "INFORM" and a["slot"] in ("appointment_date", "appointment_time")
                     for f in opening["frames"] for a in f["actions"])
    if not gives_slot:
        first = "Hi, I'd like to book an appointment."
    return [{**lines[0], "say": first}, *lines[1:]]


def _script(did: str, info: dict[str, Any], split: str, business: str) -> dict[str, Any]:
    booking: dt.datetime | None = info["booking"]
    what = (f"books {info['provider']} on {booking:%a %Y-%m-%d %H:%M}" if booking
            else f"calls {info['provider']}; no booking is made")
    script: dict[str, Any] = {
        "id": f"sgd-{split}-{did}",
        "description": f"SGD {split} dialogue {did} ({info['kind']}): caller {what}.",
        "business": business,
        "now": dt.datetime.combine(TODAY, dt.time(9, 0), TZ).isoformat(),
    }
    if info["busy"]:
        script["calendar"] = [{"service": SERVICE_ID, "start": w.isoformat(), **BUSY}
                              for w in info["busy"]]
    lines = list(info["lines"])
    if booking:
        # SGD's assistant never asks for a name; a receptionist must. The caller gives it
        # when asked, right after saying yes to the booking (or at once if never asked).
        confirms = [i for i, line in enumerate(lines) if line.get("if_asked") == "confirm"]
        at = confirms[-1] + 1 if confirms else 1
        lines.insert(at, {"say": f"It's {CALLER_NAME}.", "if_asked": "name"})
    facts = {"name": CALLER_NAME}
    if booking:  # the caller's goal, in words: a question asked again gets an answer
        day = f"{booking:%A}, {booking:%B} {booking.day}"
        # asked for the time, a caller with a fixed goal says the day it goes with too
        facts |= {"date": day, "time": f"{_spoken_time(booking.time())} on {day}"}
    script["caller"] = {"phone": "+1555" + re.sub(r"\D", "", did)[-7:].zfill(7),
                        "facts": facts, "turns": lines}
    script["expect"] = {"outcome": "booked" if booking else "no_booking"}
    if booking:
        script["expect"]["booking"] = {"service": SERVICE_ID, "start": booking.isoformat(),
                                       "name": CALLER_NAME}
    return script


def _spoken_time(t: dt.time) -> str:
    """16:30 -> "4:30 pm", 09:00 -> "9 am"."""
    hour = t.hour % 12 or 12
    suffix = "am" if t.hour < 12 else "pm"
    return f"{hour} {suffix}" if t.minute == 0 else f"{hour}:{t.minute:02d} {suffix}"


class _Dumper(yaml.SafeDumper):
    """Short lists and mappings of scalars on one line; "08:00" quoted like the fixtures."""

    def represent_sequence(self, tag, sequence, flow_style=None):  # type: ignore[override]
        flat = all(not isinstance(x, dict | list) for x in sequence)
        return super().represent_sequence(tag, sequence, flow_style=flat or None)

    def represent_mapping(self, tag, mapping, flow_style=None):  # type: ignore[override]
        items = dict(mapping)
        flat = len(items) > 1 and "say" not in items and all(
            k == "aliases" or not isinstance(v, dict | list) for k, v in items.items())
        return super().represent_mapping(tag, mapping, flow_style=flat or None)


_Dumper.add_representer(str, lambda d, s: d.represent_scalar(
    "tag:yaml.org,2002:str", s, style='"' if re.fullmatch(r"\d\d:\d\d", s) else None))


def _dump(path: Path, data: dict[str, Any]) -> None:
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)
    path.write_text(text, encoding="utf-8")


def convert(src: Path, split: str, out: Path) -> dict[str, Any]:
    """Convert ``src/<split>.jsonl`` into ``out/<split>/*.yaml`` and ``out/businesses/*.yaml``.

    Returns counts: dialogues read, converted (by outcome), skipped (by reason), businesses.
    """
    text = (src / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
    dialogues = [json.loads(line) for line in text if line.strip()]
    biz_dir, script_dir = out / "businesses", out / split
    biz_dir.mkdir(parents=True, exist_ok=True)
    script_dir.mkdir(parents=True, exist_ok=True)
    known = [Provider.from_fixture(yaml.safe_load(f.read_text(encoding="utf-8")))
             for f in sorted(biz_dir.glob("*.yaml"))]
    providers = {p.display_name: p for p in known}
    taken = {p.name for p in known}
    skipped: Counter[str] = Counter()
    kept: list[tuple[str, dict[str, Any]]] = []
    for d in dialogues:
        info, reason = read_dialogue(d)
        if info is None:
            skipped[reason] += 1
            continue
        if (p := providers.get(info["provider"])) is None:
            base = slugify(info["provider"])
            slug = next(s for s in (base, *(f"{base}-{i}" for i in range(2, 999)))
                        if s not in taken)
            taken.add(slug)
            p = providers[info["provider"]] = Provider(info["provider"], slug)
        p.add(info)
        kept.append((d["dialogue_id"], info))
    used = {providers[info["provider"]].name for _, info in kept}
    for p in providers.values():
        if p.name in used:
            _dump(biz_dir / f"{p.name}.yaml", p.fixture())
    outcomes: Counter[str] = Counter()
    for did, info in kept:
        script = _script(did, info, split, providers[info["provider"]].name)
        _dump(script_dir / f"{script['id']}.yaml", script)
        outcomes[script["expect"]["outcome"]] += 1
    _write_notes(src, out)
    return {"read": len(dialogues), "converted": len(kept), "outcomes": dict(outcomes),
            "skipped": dict(skipped), "businesses": len(used)}


def _write_notes(src: Path, out: Path) -> None:
    if (src / "LICENSE.txt").exists():
        shutil.copyfile(src / "LICENSE.txt", out / "LICENSE")
    (out / "README.md").write_text(
        "# SGD appointment dialogues as call scripts\n\n"
        "Converted by `voice-agent eval sgd` from Google's Schema-Guided Dialogue dataset\n"
        "(google-research-datasets/dstc8-schema-guided-dialogue on GitHub), its `Services_*`\n"
        "dialogues. Licensed CC BY-SA 4.0 (`LICENSE`), as is the dataset. Changes: user turns\n"
        "became caller lines, providers became business fixtures (`businesses/`), the caller is\n"
        f"named \"{CALLER_NAME}\" and knows the day and time it wants (`facts`), failed bookings\n"
        "became busy slots in each script's calendar,\n"
        "the provider search before the booking request was dropped (the agent is the\n"
        "provider's receptionist), and a caller line giving the name when asked was added\n"
        "after the confirmation (SGD's assistant never asks for one).\n",
        encoding="utf-8",
    )
