"""``voice-agent eval nlu``: how well a turn reader reads dates, times and dialogue acts from
phrasings nobody on the team wrote (SGD's user turns, all domains, canonical labels).

A *reader* is any function ``(utterance, system_before) -> Understanding`` (the production
dialog's type). The gold labels are SGD's: a turn informs a date (``YYYY-MM-DD``) or a time
(``HH:MM``), and carries acts. Measured:

- ``date``: turns that inform exactly one date; correct when the reading's day equals it;
- ``time``: turns that inform exactly one time; correct when the reading's exact time equals it;
- ``affirm`` / ``negate`` / ``select`` / ``request_alts``: every turn, as a yes/no question
  ("does this turn carry the act?"): accuracy, precision, recall. A reader's *yes* (affirm, or
  an option chosen) counts as AFFIRM after a system turn that asks to confirm, as SELECT after
  any other (an offer), which is how the dialog itself tells the two apart.

"Today" is SGD's: Friday 2019-03-01. Don't write reader rules for these sentences: measure.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evals.stats import percentiles
from voice_agent.dialog.understanding import Understanding

__all__ = ["ACTS", "TODAY", "NluTurn", "load_turns", "score"]

TODAY = dt.date(2019, 3, 1)
ACTS = ("affirm", "negate", "select", "request_alts")
SAMPLE = Path(__file__).resolve().parent / "datasets" / "sgd_turns" / "sample.jsonl"
# A system turn that asks to confirm (then a yes is AFFIRM) rather than offering (SELECT).
_CONFIRM_ASK = re.compile(
    r"\b(confirm|confirming|to be clear|so you want|you want (me )?to|you would like|you'd like|"
    r"is that (right|correct|ok)|does that sound|please check|review the|green light|shall i|"
    r"should i|do you want me to|would you like me to)\b", re.IGNORECASE)

Reader = Callable[[str, str], Understanding]


@dataclass(frozen=True)
class NluTurn:
    dialogue_id: str
    utterance: str
    system_before: str
    dates: tuple[str, ...]
    times: tuple[str, ...]
    acts: frozenset[str]


def load_turns(path: Path, limit: int | None = None) -> list[NluTurn]:
    turns = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            informs = [a for a in d["acts"] if a["act"] == "INFORM" and a["canonical_values"]]
            turns.append(NluTurn(
                dialogue_id=d["dialogue_id"], utterance=d["utterance"],
                system_before=d.get("system_before") or "",
                dates=tuple(v for a in informs if "date" in a["slot"]
                            for v in a["canonical_values"]),
                times=tuple(v for a in informs if "time" in a["slot"]
                            for v in a["canonical_values"]),
                acts=frozenset(a["act"].lower() for a in d["acts"]),
            ))
            if limit is not None and len(turns) >= limit:
                break
    return turns


def predicted_acts(u: Understanding, system_before: str) -> set[str]:
    acts = set()
    yes = (u.affirm and not u.deny) or u.option is not None
    if yes:
        acts.add("affirm" if _CONFIRM_ASK.search(system_before) else "select")
    if u.deny and not u.affirm:
        acts.add("negate")
    if u.wants_alternatives:
        acts.add("request_alts")
    return acts


@dataclass
class _Binary:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, gold: bool, pred: bool) -> None:
        if gold and pred:
            self.tp += 1
        elif pred:
            self.fp += 1
        elif gold:
            self.fn += 1
        else:
            self.tn += 1

    def as_dict(self) -> dict[str, float | int]:
        n = self.tp + self.fp + self.fn + self.tn
        return {"n": n, "support": self.tp + self.fn,
                "accuracy": round((self.tp + self.tn) / n, 4) if n else 0.0,
                "precision": round(self.tp / (self.tp + self.fp), 4) if self.tp + self.fp else 0.0,
                "recall": round(self.tp / (self.tp + self.fn), 4) if self.tp + self.fn else 0.0}


@dataclass
class Score:
    date_ok: int = 0
    date_n: int = 0
    time_ok: int = 0
    time_n: int = 0
    acts: dict[str, _Binary] = field(default_factory=lambda: {a: _Binary() for a in ACTS})
    seconds: list[float] = field(default_factory=list)
    misses: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        secs = self.seconds
        return {
            "turns": len(self.seconds),
            "date": {"n": self.date_n,
                     "accuracy": round(self.date_ok / self.date_n, 4) if self.date_n else None},
            "time": {"n": self.time_n,
                     "accuracy": round(self.time_ok / self.time_n, 4) if self.time_n else None},
            "acts": {a: b.as_dict() for a, b in self.acts.items()},
            "seconds_per_reading": percentiles(secs) | {
                "mean": round(statistics.fmean(secs), 4) if secs else None},
        }


def score(turns: Iterable[NluTurn], reader: Reader, *, keep_misses: int = 40,
          seconds: list[float] | None = None) -> Score:
    """Score ``reader`` on ``turns``; ``seconds`` (one per turn) replaces the measured time
    when the readings were made beforehand (an LLM reading, measured where it ran)."""
    s = Score()
    for i, turn in enumerate(turns):
        t0 = time.perf_counter()
        u = reader(turn.utterance, turn.system_before)
        s.seconds.append(seconds[i] if seconds is not None else time.perf_counter() - t0)
        miss: dict[str, Any] = {}
        if len(set(turn.dates)) == 1:
            s.date_n += 1
            got = u.day.isoformat() if u.day else None
            if got == turn.dates[0]:
                s.date_ok += 1
            else:
                miss["date"] = (turn.dates[0], got)
        if len(set(turn.times)) == 1:
            s.time_n += 1
            got = u.tod.exact.strftime("%H:%M") if u.tod and u.tod.exact else None
            if got == turn.times[0]:
                s.time_ok += 1
            else:
                miss["time"] = (turn.times[0], got)
        pred = predicted_acts(u, turn.system_before)
        for act in ACTS:
            gold = act in turn.acts
            s.acts[act].add(gold, act in pred)
            if gold != (act in pred):
                miss.setdefault("acts", {})[act] = "missed" if gold else "extra"
        if miss and len(s.misses) < keep_misses:
            s.misses.append({"utterance": turn.utterance, "system_before": turn.system_before,
                             **miss})
    return s


def sgd_business():  # -> Business (imported lazily: the scorer itself needs no schedule)
    """A neutral business for SGD's turns (restaurants, flights, salons...): open every day,
    one service, no staff, so that only dates, times and acts are read."""
    from connectors.schedule import Business, Service

    return Business(name="sgd", display_name="SGD", timezone="America/Los_Angeles",
                    hours={d: ("00:00", "23:59") for d in
                           ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
                    slot_minutes=15, services=[Service(id="appointment", name="Appointment",
                                                       minutes=30)])


def asked_of(system_before: str) -> str:
    """What the system's last turn asked for, as the dialog state would hold it."""
    from evals.simulator.caller_policy import classify_question

    kinds = classify_question(system_before)
    for kind in ("confirm", "name", "phone", "date", "time", "service"):
        if kind in kinds:
            return kind
    return "anything"


def regex_reader() -> Reader:
    from voice_agent.dialog.understanding import understand

    business = sgd_business()

    def read(utterance: str, system_before: str) -> Understanding:
        return understand(utterance, business, TODAY, asked=asked_of(system_before))

    return read
