"""The bench's HTML reports (``report.html`` beside ``bench.json`` / ``load.json``), drawn with
the eval report's inline-SVG plots (:mod:`evals.report`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evals.bench.stats import PERCENTILES, REPORTED, STAGES
from evals.report import CSS, bar_chart, e, histogram, stacked_bars

__all__ = ["render_bench", "render_load", "write_html"]

_PARTS = [*STAGES, "overhead"]


def _num(v: Any) -> str:
    return "–" if v is None else f"{v:.3f}" if isinstance(v, float) else e(v)


def _page(title: str, body: str) -> str:
    return ('<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{e(title)}</title><style>{CSS}</style></head><body>"
            f"<h1>{e(title)}</h1>{body}</body></html>\n")


def _kv(data: dict[str, Any]) -> str:
    return "<table>" + "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>"
                               for k, v in data.items()) + "</table>"


def _turn_totals(calls: list[dict[str, Any]], key: str) -> list[float]:
    return [t["latency"][key] for c in calls for t in c.get("turns") or []
            if isinstance(t.get("latency", {}).get(key), int | float)]


def render_bench(doc: dict[str, Any]) -> str:
    ours, stock, ratio = doc["ours"], doc.get("stock") or {}, doc.get("ratio") or {}
    head = "<tr><th>stage</th>" + "".join(
        f"<th>{who} {p}</th>" for who in ("ours", "stock", "ours/stock") for p in PERCENTILES
    ) + "<th>n ours</th><th>n stock</th></tr>"
    rows = "".join(
        f"<tr><th>{e(name)}</th>" + "".join(
            f"<td>{_num((src.get(name) or {}).get(p))}</td>"
            for src in (ours, stock, ratio) for p in PERCENTILES)
        + f"<td>{_num((ours.get(name) or {}).get('n'))}</td>"
        f"<td>{_num((stock.get(name) or {}).get('n'))}</td></tr>" for name in REPORTED)
    plots = []
    bars = [(f"{who} {p}", {s: (src.get(s) or {}).get(p) or 0.0 for s in _PARTS})
            for p in ("p50", "p95") for who, src in (("ours", ours), ("stock", stock)) if src]
    plots.append(stacked_bars(bars, _PARTS, "Stages at p50 and p95 (s; each stage's own "
                              "percentile, so a bar is not a turn)"))
    if ratio:
        rs = [(name, r, f"{r:.2f}x") for name in REPORTED
              if (r := (ratio.get(name) or {}).get("p50")) is not None]
        if rs:
            plots.append(bar_chart(rs, "ours / stock at p50 (1.0 = same)",
                                   vmax=max(max(v for _, v, _ in rs), 1.0)))
    calls = doc.get("calls") or {}
    for who in ("ours", "stock"):
        totals = _turn_totals(calls.get(who) or [], "total")
        if totals:
            plots.append(histogram(totals, f"{who}: end of speech → first audio out, per turn"))
        caller = [v for c in calls.get(who) or [] for v in c.get("caller_side") or []]
        if caller:
            plots.append(histogram(caller, f"{who}: caller-side latency, per turn"))
    body = (f"<h2>Latency (s), {len(doc.get('scripts') or [])} scripts</h2>"
            f"<table>{head}{rows}</table><h2>Plots</h2>{''.join(plots)}"
            f"<h2>Machine</h2>{_kv(doc.get('machine') or {})}"
            f"<h2>Models</h2>{_kv(doc.get('models') or {})}"
            "<h2>Scripts</h2><ul>" + "".join(f"<li>{e(s)}</li>" for s in doc.get("scripts") or [])
            + "</ul>")
    return _page("Latency bench: ours vs stock pipecat", body)


def render_load(doc: dict[str, Any]) -> str:
    levels = doc.get("levels") or []
    head = ("<tr><th>concurrency</th><th>calls</th><th>completed</th><th>refused</th>"
            "<th>failed</th><th>booking correct</th><th>p50</th><th>p95</th><th>p99</th>"
            "<th>caller-side p95</th></tr>")
    rows = "".join(
        f"<tr><td>{lv['concurrency']}</td><td>{lv['calls']}</td><td>{lv['completed']}</td>"
        f"<td>{lv['refused']}</td><td>{lv['failed']}</td><td>{lv['booking_correct']}</td>"
        + "".join(f"<td>{_num(lv['total'].get(p))}</td>" for p in PERCENTILES)
        + f"<td>{_num(lv['caller_side'].get('p95'))}</td></tr>" for lv in levels)
    p95 = [(f"C={lv['concurrency']}", v, f"{v:.2f}s") for lv in levels
           if (v := lv["total"].get("p95")) is not None]
    plot = bar_chart(p95, f"p95 end of speech → first audio (s); capacity bound "
                     f"{doc.get('p95_limit_s')} s", vmax=max([v for _, v, _ in p95] + [
                         doc.get("p95_limit_s") or 1.0])) if p95 else ""
    body = (f"<p>capacity (largest C with p95 ≤ {e(doc.get('p95_limit_s'))} s and no "
            f"refusals): <b>{e(doc.get('capacity'))}</b></p><table>{head}{rows}</table>{plot}"
            f"<h2>Machine</h2>{_kv(doc.get('machine') or {})}")
    return _page("Load bench", body)


def write_html(doc: dict[str, Any], out: Path, *, kind: str = "bench") -> Path:
    """Write ``{kind}.json`` and ``report.html`` (``load-report.html`` for load) under out."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{kind}.json").write_text(json.dumps(doc, indent=2), encoding="utf-8")
    html_path = out / ("report.html" if kind == "bench" else "load-report.html")
    html_path.write_text(render_bench(doc) if kind == "bench" else render_load(doc),
                         encoding="utf-8")
    return html_path
