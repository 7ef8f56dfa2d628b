"""``DIR/report.html``: the human report of an eval run (``results.json`` rendered).

One self-contained page: a summary table, outcome by category, latency plots when the run has
per-turn latency (audio mode: a ``latency`` dict of seconds by stage on each turn), then every
call, failures first, with its transcript. Plots are inline SVG; all text is HTML-escaped.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

__all__ = ["call_failed", "render_report", "turn_latencies", "write_report"]

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#bab0ac")
CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;
text-align:left;vertical-align:top}th{background:#f3f3f3}.fail{color:#b00020;font-weight:600}
.pass{color:#1b7f3b}.turn{margin:.3em 0}.who{font-weight:600;display:inline-block;width:4em}
.meta{color:#666;font-size:12px;margin-left:4em}details{margin:.4em 0 1em}svg{display:block;
margin:.5em 0 1.5em}summary{cursor:pointer}
"""


def e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def call_failed(call: dict[str, Any]) -> bool:
    return (not call.get("outcome_correct") or bool(call.get("forbidden_events"))
            or bool(call.get("wrong_actions"))
            or call.get("booking_fields_correct") is False or bool(call.get("error")))


def _num(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def turn_latencies(calls: list[dict[str, Any]]) -> list[dict[str, float]]:
    """Every turn's latency dict (stage -> seconds), numeric values only; ``total`` filled in."""
    out: list[dict[str, float]] = []
    for call in calls:
        for turn in call.get("turns") or []:
            lat = turn.get("latency") if isinstance(turn, dict) else None
            if not isinstance(lat, dict):
                continue
            stages = {str(k): n for k, v in lat.items() if (n := _num(v)) is not None}
            if "total" not in stages and stages:
                stages["total"] = sum(stages.values())
            if stages:
                out.append(stages)
    return out


# -- SVG ---------------------------------------------------------------------------------------
def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'role="img" aria-label="{e(title)}" font-family="sans-serif" font-size="11">'
            f'<text x="4" y="14" font-size="13" font-weight="600">{e(title)}</text>'
            + "".join(body) + "</svg>")


def bar_chart(rows: list[tuple[str, float, str]], title: str, *, vmax: float = 1.0) -> str:
    """Horizontal bars: (label, value, caption)."""
    left, width, bar_h = 170, 380, 18
    body = []
    for i, (label, value, caption) in enumerate(rows):
        y = 26 + i * (bar_h + 6)
        w = 0 if vmax <= 0 else max(0.0, min(1.0, value / vmax)) * width
        body.append(f'<text x="{left - 6}" y="{y + 13}" text-anchor="end">{e(label[:28])}</text>'
                    f'<rect x="{left}" y="{y}" width="{width}" height="{bar_h}" fill="#eee"/>'
                    f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" '
                    f'fill="{PALETTE[0]}"/><text x="{left + width + 6}" y="{y + 13}">'
                    f'{e(caption)}</text>')
    return _svg(left + width + 90, 34 + len(rows) * (bar_h + 6), body, title)


def histogram(values: list[float], title: str, *, bins: int = 20, unit: str = "s") -> str:
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - lo) / span * bins))] += 1
    left, top, width, height = 40, 24, 520, 160
    peak = max(counts)
    bw = width / bins
    body = [f'<line x1="{left}" y1="{top + height}" x2="{left + width}" y2="{top + height}" '
            'stroke="#888"/>', f'<text x="{left - 4}" y="{top + 10}" text-anchor="end">{peak}'
            '</text>']
    for i, c in enumerate(counts):
        h = c / peak * height if peak else 0
        body.append(f'<rect x="{left + i * bw + 1:.1f}" y="{top + height - h:.1f}" '
                    f'width="{bw - 2:.1f}" height="{h:.1f}" fill="{PALETTE[0]}">'
                    f'<title>{lo + i * span / bins:.2f}–{lo + (i + 1) * span / bins:.2f}'
                    f'{unit}: {c}</title></rect>')
    for x, v in ((left, lo), (left + width, hi)):
        body.append(f'<text x="{x}" y="{top + height + 14}" text-anchor="middle">'
                    f'{v:.2f}{unit}</text>')
    return _svg(left + width + 30, top + height + 24, body, title)


def stacked_bars(rows: list[tuple[str, dict[str, float]]], stages: list[str], title: str) -> str:
    """One horizontal bar per row, segments by stage (seconds), with a legend."""
    left, width, bar_h = 170, 420, 16
    vmax = max((sum(v.get(s, 0.0) for s in stages) for _, v in rows), default=0.0) or 1.0
    body = []
    for j, stage in enumerate(stages):
        x = left + j * 110
        body.append(f'<rect x="{x}" y="22" width="10" height="10" '
                    f'fill="{PALETTE[j % len(PALETTE)]}"/><text x="{x + 14}" y="31">'
                    f'{e(stage[:14])}</text>')
    for i, (label, values) in enumerate(rows):
        y, x = 42 + i * (bar_h + 5), float(left)
        body.append(f'<text x="{left - 6}" y="{y + 12}" text-anchor="end">{e(label[:28])}</text>')
        for j, stage in enumerate(stages):
            w = values.get(stage, 0.0) / vmax * width
            body.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" '
                        f'fill="{PALETTE[j % len(PALETTE)]}"><title>{e(stage)}: '
                        f'{values.get(stage, 0.0):.3f}s</title></rect>')
            x += w
        body.append(f'<text x="{x + 6:.1f}" y="{y + 12}">'
                    f'{sum(values.get(s, 0.0) for s in stages):.2f}s</text>')
    width_px = max(left + width + 70, left + len(stages) * 110)
    return _svg(width_px, 50 + len(rows) * (bar_h + 5), body, title)


# -- page --------------------------------------------------------------------------------------
def _fmt(value: Any, pct: bool = False) -> str:
    if value is None:
        return "–"
    if pct and isinstance(value, int | float):
        return f"{value:.1%}"
    return str(value)


def _summary_table(s: dict[str, Any]) -> str:
    lat = s.get("latency_s") or {}
    rows = [("wrong actions", _fmt(s.get("wrong_actions"))),
            ("scripts", _fmt(s.get("scripts"))),
            ("outcome accuracy", _fmt(s.get("outcome_accuracy"), True)),
            ("booking fields accuracy", _fmt(s.get("booking_fields_accuracy"), True)),
            ("forbidden events", _fmt(s.get("forbidden_events"))),
            ("tool calls (rejected)", f"{_fmt(s.get('tool_calls'))} "
                                      f"({_fmt(s.get('tool_calls_rejected'))})"),
            ("tool call rejection rate", _fmt(s.get("tool_call_rejection_rate"), True)),
            ("review items", _fmt(s.get("review_items"))),
            ("mean agent turns", _fmt(s.get("mean_agent_turns"))),
            ("latency p50 / p95 / p99 (s)", " / ".join(_fmt(lat.get(k))
                                                       for k in ("p50", "p95", "p99"))),
            ("errors", _fmt(s.get("errors")))]
    return "<table>" + "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows) + (
        "</table>")


def _plots(results: dict[str, Any]) -> str:
    calls = results.get("calls") or []
    out = []
    cats = (results.get("summary") or {}).get("by_category") or {}
    rows = [(c, _num(v.get("outcome_accuracy")) or 0.0,
             f"{_num(v.get('outcome_accuracy')) or 0.0:.0%} of {v.get('scripts', '?')}")
            for c, v in sorted(cats.items()) if isinstance(v, dict)]
    if rows:
        out.append(bar_chart(rows, "Outcome accuracy by category"))
    lats = turn_latencies(calls)
    if lats:
        out.append(histogram([t["total"] for t in lats], "Per-turn latency (total)"))
        stages = list(dict.fromkeys(k for t in lats for k in t if k != "total"))
        per_call: list[tuple[str, dict[str, float]]] = []
        for call in calls:
            turns = turn_latencies([call])
            if turns and stages:
                per_call.append((str(call.get("id", "?")), {
                    s: sum(t.get(s, 0.0) for t in turns) / len(turns) for s in stages}))
        if per_call:
            out.append(stacked_bars(per_call, stages, "Mean per-turn latency by stage"))
    return "".join(out) or "<p>No data to plot.</p>"


def _transcript(call: dict[str, Any]) -> str:
    parts = []
    for i, turn in enumerate(call.get("turns") or []):
        if not isinstance(turn, dict):
            continue
        tools = ", ".join(f"{t.get('name', '?')} [{t.get('status', '?')}]"
                          for t in turn.get("tool_calls") or [] if isinstance(t, dict))
        events = ", ".join(str(ev.get("event", "?")) for ev in turn.get("policy_events") or []
                           if isinstance(ev, dict))
        lat = turn.get("latency")
        meta = " · ".join(x for x in (f"tools: {tools}" if tools else "",
                                      f"policy: {events}" if events else "",
                                      f"latency: {json.dumps(lat)}" if lat else "") if x)
        parts.append(f'<div class="turn"><span class="who">#{i + 1} caller</span> '
                     f'{e(turn.get("caller"))}</div><div class="turn"><span class="who">agent'
                     f'</span> {e(turn.get("agent"))}</div>'
                     + (f'<div class="meta">{e(meta)}</div>' if meta else ""))
    return "".join(parts) or "<p>(no turns)</p>"


def _call_row(call: dict[str, Any]) -> str:
    failed = call_failed(call)
    status = '<span class="fail">FAIL</span>' if failed else '<span class="pass">pass</span>'
    bf = call.get("booking_fields_correct")
    cells = [status, e(call.get("id")), e(call.get("category")), e(call.get("outcome")),
             "–" if bf is None else ("yes" if bf else "no"),
             e("; ".join(map(str, call.get("wrong_actions") or []))),
             e("; ".join(map(str, call.get("forbidden_events") or []))),
             e(call.get("agent_turns")),
             f"{e(call.get('tool_calls'))} ({e(call.get('tool_calls_rejected'))})",
             e(call.get("review_items")),
             e("; ".join(map(str, call.get("problems") or [])) + (
                 f" error: {call['error']}" if call.get("error") else ""))]
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def render_report(results: dict[str, Any]) -> str:
    calls = sorted(results.get("calls") or [],
                   key=lambda c: (not call_failed(c), str(c.get("id", ""))))
    summary = results.get("summary") or {}
    failures = [c for c in calls if call_failed(c)]
    head = ("<th>status</th><th>id</th><th>category</th><th>outcome</th><th>fields ok</th>"
            "<th>wrong actions</th><th>forbidden events</th><th>agent turns</th>"
            "<th>tool calls (rejected)</th>"
            "<th>review</th><th>problems</th>")
    details = "".join(
        f'<details{" open" if call_failed(c) else ""}><summary>'
        f'{"FAIL" if call_failed(c) else "pass"} · {e(c.get("id"))} · {e(c.get("outcome"))}'
        f'</summary>{_transcript(c)}</details>' for c in calls)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Eval report</title><style>{CSS}</style></head><body>"
        f"<h1>Eval report</h1><h2>Summary</h2>{_summary_table(summary)}"
        f"<h2>Plots</h2>{_plots(results)}"
        f"<h2>Calls ({len(failures)} failing of {len(calls)})</h2>"
        f"<table><tr>{head}</tr>{''.join(_call_row(c) for c in calls)}</table>"
        f"<h2>Transcripts (failures first)</h2>{details}</body></html>\n"
    )


def write_report(results: dict[str, Any], path: Path) -> None:
    """Write the HTML report for ``results`` (the content of ``results.json``) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(results), encoding="utf-8")
