"""``voice-agent eval compare OLD NEW``: what changed between two runs, and is it a regression.

A run regresses when its outcome accuracy drops by more than ``max_drop`` (absolute), when any
call shows a forbidden event it did not show before (every forbidden event of a call new to the
suite counts), or when p95 latency grows by more than ``max_latency_ratio`` (checked only when
both runs measured latency).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Comparison", "compare", "load_results"]

EPS = 1e-9


@dataclass
class Comparison:
    summary: list[str] = field(default_factory=list)  # suite-level lines
    changes: dict[str, list[str]] = field(default_factory=dict)  # call id -> what changed
    regressions: list[str] = field(default_factory=list)  # why the gate fails

    @property
    def regressed(self) -> bool:
        return bool(self.regressions)

    def lines(self) -> list[str]:
        out = list(self.summary)
        out += [f"{cid}: {'; '.join(ch)}" for cid, ch in sorted(self.changes.items())]
        if not self.changes:
            out.append("no per-call changes")
        out += [f"REGRESSION: {r}" for r in self.regressions] or ["no regression"]
        return out


def load_results(path: Path | str) -> dict[str, Any]:
    """``results.json`` from a run directory (or the file itself)."""
    path = Path(path)
    file = path / "results.json" if path.is_dir() else path
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{file}: cannot read: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{file}: not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("calls", []), list):
        raise ValueError(f"{file}: not an eval results file")
    return data


def _num(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if ok else None


def _p95(results: dict[str, Any]) -> float | None:
    return _num(((results.get("summary") or {}).get("latency_s") or {}).get("p95"))


def _fmt(value: float | None, pct: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{value:.1%}" if pct else f"{value:.3g}"


def _call_changes(old: dict[str, Any], new: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(what changed, forbidden events and wrong actions that are new) for one call present
    in both runs."""
    changes: list[str] = []
    was, now = bool(old.get("outcome_correct")), bool(new.get("outcome_correct"))
    if was != now:
        verdict = "FIXED" if now else "REGRESSED"
        changes.append(f"{verdict}: outcome {old.get('outcome')} -> {new.get('outcome')}")
    elif old.get("outcome") != new.get("outcome"):
        changes.append(f"outcome {old.get('outcome')} -> {new.get('outcome')}")
    if old.get("booking_fields_correct") != new.get("booking_fields_correct"):
        changes.append(f"booking fields correct {old.get('booking_fields_correct')} -> "
                       f"{new.get('booking_fields_correct')}")
    added: list[str] = []
    for key, label in (("wrong_actions", "wrong actions"), ("forbidden_events",
                                                              "forbidden events")):
        before = Counter(map(str, old.get(key) or []))
        after = Counter(map(str, new.get(key) or []))
        new_items, gone = list((after - before).elements()), list((before - after).elements())
        if new_items:
            changes.append(f"new {label}: {', '.join(new_items)}")
            added += [f"{label[:-1]}: {x}" for x in new_items]
        if gone:
            changes.append(f"{label} gone: {', '.join(gone)}")
    for key in ("agent_turns", "tool_calls_rejected", "review_items"):
        if old.get(key) != new.get(key):
            changes.append(f"{key} {old.get(key)} -> {new.get(key)}")
    if old.get("error") != new.get("error"):
        changes.append(f"error {old.get('error') or 'none'} -> {new.get('error') or 'none'}")
    if not now and was == now and old.get("problems") != new.get("problems"):
        changes.append(f"problems now: {'; '.join(map(str, new.get('problems') or []))}")
    return changes, added


def compare(
    old: dict[str, Any], new: dict[str, Any], *, max_drop: float = 0.02,
    max_latency_ratio: float = 1.2,
) -> Comparison:
    cmp = Comparison()
    old_calls = {str(c.get("id")): c for c in old.get("calls") or []}
    new_calls = {str(c.get("id")): c for c in new.get("calls") or []}
    os_, ns = old.get("summary") or {}, new.get("summary") or {}
    oa, na = _num(os_.get("outcome_accuracy")), _num(ns.get("outcome_accuracy"))
    delta = "" if oa is None or na is None else f" ({na - oa:+.1%})"
    cmp.summary.append(f"scripts: {len(old_calls)} -> {len(new_calls)}")
    cmp.summary.append(f"outcome accuracy: {_fmt(oa, True)} -> {_fmt(na, True)}{delta}")
    ob, nb = _num(os_.get("booking_fields_accuracy")), _num(ns.get("booking_fields_accuracy"))
    cmp.summary.append(f"booking fields accuracy: {_fmt(ob, True)} -> {_fmt(nb, True)}")
    cmp.summary.insert(1, f"wrong actions: {os_.get('wrong_actions', 'n/a')} -> "
                          f"{ns.get('wrong_actions', 'n/a')}")
    cmp.summary.append(f"forbidden events: {os_.get('forbidden_events', 'n/a')} -> "
                       f"{ns.get('forbidden_events', 'n/a')}")
    op, np_ = _p95(old), _p95(new)
    cmp.summary.append(f"p95 latency (s): {_fmt(op)} -> {_fmt(np_)}")
    if oa is not None and na is not None and oa - na > max_drop + EPS:
        cmp.regressions.append(f"outcome accuracy dropped {oa - na:.1%} "
                               f"({oa:.1%} -> {na:.1%}), more than the allowed {max_drop:.1%}")
    new_forbidden: list[str] = []
    for cid in sorted(set(old_calls) | set(new_calls)):
        o, n = old_calls.get(cid), new_calls.get(cid)
        if o is None and n is not None:
            state = "passes" if n.get("outcome_correct") else "FAILS"
            events = [f"wrong action: {x}" for x in n.get("wrong_actions") or []] + [
                f"forbidden event: {x}" for x in n.get("forbidden_events") or []]
            cmp.changes[cid] = [f"added ({state})" + (f"; {', '.join(events)}" if events
                                                      else "")]
            new_forbidden += [f"{cid}: {x}" for x in events]
        elif n is None:
            cmp.changes[cid] = ["removed"]
        else:
            changes, added = _call_changes(o, n)
            if changes:
                cmp.changes[cid] = changes
            new_forbidden += [f"{cid}: {x}" for x in added]
    if new_forbidden:
        cmp.regressions.append(f"new wrong actions / forbidden events: "
                               f"{', '.join(new_forbidden)}")
    if op is not None and np_ is not None and op > 0 and np_ / op > max_latency_ratio + EPS:
        cmp.regressions.append(f"p95 latency up {np_ / op:.2f}x ({op:.3g}s -> {np_:.3g}s), "
                               f"more than the allowed {max_latency_ratio:.2f}x")
    return cmp
