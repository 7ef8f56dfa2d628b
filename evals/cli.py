"""``voice-agent call``, ``demo``, ``eval ...`` and ``bench ...``: the eval tooling's
commands, added to the ``voice-agent`` command through the ``voice_agent.commands`` entry point
(``pyproject.toml``), so that production code never imports ``evals``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from evals.bench.cli import bench_app
from voice_agent.config import get_settings
from voice_agent.logging_utils import configure_logging

console = Console()
tools = typer.Typer()
eval_app = typer.Typer(help="Replay call scripts, score them, gate regressions.")


def register(app: typer.Typer) -> None:
    """Entry point: add ``call``, ``demo`` and the ``eval`` and ``bench`` groups to the
    ``voice-agent`` app."""
    for command in tools.registered_commands:
        app.registered_commands.append(command)
    app.add_typer(eval_app, name="eval")
    app.add_typer(bench_app, name="bench")


@tools.command()
def call(
    script: Annotated[Path, typer.Option(help="Call script (YAML, see EVAL_FORMAT).")],
    server: Annotated[str, typer.Option(help="Agent server base URL.")] = "http://127.0.0.1:8080",
    database_url: Annotated[
        str | None, typer.Option(help="The server's database, to seed and check the calendar.")
    ] = None,
    recording: Annotated[Path | None, typer.Option(help="Where to write the WAV.")] = None,
    caller_voice: Annotated[str, typer.Option(
        help="piper (pitch-shifted, default) or espeak (espeak-ng).")] = "piper",
) -> None:
    """Phone the agent as a simulated Twilio caller and check the script's expectation.

    Speaks the script's caller lines with espeak-ng over a Twilio-faithful Media Stream,
    prints the live transcript, the booking and per-turn latency; exits 1 if the call did
    not end as the script expects.
    """
    import asyncio

    from evals.phone_call import print_report, run_scripted_call
    from voice_agent.store.db import make_engine, upgrade

    settings = get_settings()
    configure_logging("WARNING")
    engine = make_engine(database_url or settings.db_url)
    upgrade(engine)
    target = recording or settings.data_dir / "recordings" / f"caller-{script.stem}.wav"
    try:
        result = asyncio.run(run_scripted_call(
            script_path=script, server_url=server, settings=settings, engine=engine,
            recording=target, console=console, caller_voice=caller_voice,
        ))
    finally:
        engine.dispose()
    print_report(result, console)
    raise typer.Exit(0 if result.verdict.outcome_correct else 1)


@tools.command()
def demo(
    script: Annotated[Path, typer.Option(help="Call script to play.")] = Path(
        "evals/calls/demo/salon-book-basic.yaml"
    ),
    port: Annotated[int, typer.Option(help="Server port (0 = any free port).")] = 0,
) -> None:
    """Start the server with its sidecars, place one simulated call, show the booking.

    Uses a fresh database under var/demo/ each run; exits 0 only if the booking exists.
    """
    from evals.demo import run_demo

    raise typer.Exit(run_demo(script=script, port=port, console=console))




@eval_app.command("run")
def eval_run(
    paths: Annotated[list[Path], typer.Argument(help="Script files or folders.")],
    out: Annotated[Path, typer.Option(help="Where results.json goes.")] = Path("evals/out"),
    mode: Annotated[str, typer.Option(
        help="text: lines go straight to the dialog; audio: synthesised speech over the "
        "real Twilio path to a real server (starts one).")] = "text",
    llm: Annotated[str | None, typer.Option(help="OpenAI-compatible base URL; "
                                            "default: start the embedded LLM sidecar.")] = None,
    jobs: Annotated[int, typer.Option(help="Scripts replayed at once.")] = 1,
    reading: Annotated[str | None, typer.Option(
        help="The LLM's typed reading of each turn: always, when_unsure, off (default: "
        "always with --llm, off on the embedded model).")] = None,
    voices: Annotated[str, typer.Option(
        help="Audio mode: caller voices, comma-separated (piper, piper-high, espeak, "
        "espeak-f); scripts take the voice x line combinations in turn.")] = "piper",
    lines: Annotated[str, typer.Option(
        help="Audio mode: telephone lines, comma-separated: clean, or band, snrN, lossN "
        "joined by + (e.g. band+snr10+loss2).")] = "clean",
) -> None:
    """Replay call scripts against the production code and write results.json + report.html."""
    import asyncio

    from evals.runner import run_suite

    if mode not in ("text", "audio"):
        console.print("[red]--mode is text or audio[/]")
        raise typer.Exit(2)
    configure_logging("WARNING")
    if reading not in (None, "always", "when_unsure", "off"):
        console.print("[red]--reading is always, when_unsure or off[/]")
        raise typer.Exit(2)
    results = asyncio.run(run_suite(paths, out=out, settings=get_settings(), llm_url=llm,
                                    jobs=jobs, console=console, mode=mode, reading=reading,
                                    voices=voices.split(","), lines=lines.split(",")))
    s = results["summary"]
    console.print_json(data={k: v for k, v in s.items() if k not in (
        "by_category", "by_voice", "by_line")})
    for key in ("by_voice", "by_line"):
        if key in s:
            console.print_json(data={key: s[key]})
    for call in results["calls"]:
        if not call["outcome_correct"] or call["forbidden_events"]:
            console.print(f"[red]FAIL[/] {call['id']}: {call['outcome']} "
                          f"{call['problems']} {call['forbidden_events']} {call['error'] or ''}")
    console.print(f"results: {out / 'results.json'}")


@eval_app.command("compare")
def eval_compare(
    old: Annotated[Path, typer.Argument(help="Baseline run directory (or its results.json).")],
    new: Annotated[Path, typer.Argument(help="New run directory (or its results.json).")],
    max_drop: Annotated[float, typer.Option(
        help="Largest allowed drop in outcome accuracy (absolute, 0.02 = 2 points).")] = 0.02,
    max_latency_ratio: Annotated[float, typer.Option(
        help="Largest allowed p95 latency ratio new/old (skipped without latency).")] = 1.2,
) -> None:
    """Print what changed per call; exit 1 when NEW regresses against OLD."""
    from evals.compare import compare, load_results

    try:
        before, after = load_results(old), load_results(new)
    except ValueError as exc:
        console.print(f"[red]{exc}[/]", highlight=False)
        raise typer.Exit(2) from None
    result = compare(before, after, max_drop=max_drop, max_latency_ratio=max_latency_ratio)
    for line in result.lines():
        style = "red" if line.startswith("REGRESSION") or "REGRESSED" in line else None
        console.print(line, style=style, markup=False, highlight=False)
    raise typer.Exit(1 if result.regressed else 0)


@eval_app.command("export")
def eval_export(
    call_id: Annotated[str, typer.Argument(help="The stored call's id (or a unique prefix).")],
    database_url: Annotated[str | None, typer.Option(help="SQLAlchemy URL.")] = None,
    redact: Annotated[bool, typer.Option(
        help='Replace the caller\'s name with "Caller Name" and phone with +15550100000.')] = False,
    out: Annotated[Path | None, typer.Option(help="Script file (default: stdout).")] = None,
) -> None:
    """Turn a stored real call into a call script (caller lines, clock, resulting booking)."""
    import sys

    from connectors.schedule import load_businesses
    from evals.export import ExportError, dump_script, export_call
    from evals.script import load_script
    from voice_agent.store.db import make_engine

    settings = get_settings()
    engine = make_engine(database_url or settings.db_url)
    try:
        script = export_call(engine, call_id, redact=redact,
                             businesses=load_businesses(settings.businesses_dir))
    except ExportError as exc:
        console.print(f"[red]cannot export:[/] {exc}", highlight=False)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    if out is None:
        sys.stdout.write(dump_script(script))
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(dump_script(script), encoding="utf-8")
    load_script(out)  # the contract: what export writes, the runner reads
    console.print(f"wrote {out} ({script['expect']['outcome']})")


@eval_app.command("sgd")
def eval_sgd(
    src: Annotated[Path | None, typer.Argument(
        help="Folder with <split>.jsonl (default: the dev split shipped in "
        "evals/datasets/sgd/source).")] = None,
    split: Annotated[str, typer.Option(help="train or dev.")] = "dev",
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("evals/datasets/sgd"),
) -> None:
    """Convert SGD appointment dialogues (CC BY-SA 4.0) into call scripts + business fixtures."""
    from evals.sgd import DEFAULT_SRC, convert

    src = src or DEFAULT_SRC
    if split not in ("train", "dev") or not (src / f"{split}.jsonl").is_file():
        console.print(f"[red]no {split}.jsonl in {src} (--split train|dev)[/]", highlight=False)
        raise typer.Exit(2)
    counts = convert(src, split, out)
    console.print(f"dialogues read: {counts['read']}")
    console.print(f"converted:      {counts['converted']} "
                  + " ".join(f"({n} {k})" for k, n in sorted(counts["outcomes"].items())))
    skipped = counts["skipped"]
    console.print(f"skipped:        {sum(skipped.values())}")
    for reason, n in sorted(skipped.items(), key=lambda kv: -kv[1]):
        console.print(f"  {n:4d}  {reason}", highlight=False)
    console.print(f"businesses:     {counts['businesses']} in {out / 'businesses'}")
    console.print(f"scripts:        {out / split}")


@eval_app.command("nlu")
def eval_nlu(
    data: Annotated[Path | None, typer.Option(
        help="SGD user turns (JSONL), e.g. the full dev split "
        "../shared/data/sgd_turns/dev.jsonl. Default: the 500-turn sample in "
        "evals/datasets/sgd_turns.")] = None,
    reader: Annotated[list[str] | None, typer.Option(
        help="regex, llm, merge (repeat the option for several; default all three).")] = None,
    limit: Annotated[int | None, typer.Option(help="Read only the first N turns.")] = None,
    llm: Annotated[str | None, typer.Option(
        help="OpenAI-compatible base URL for the LLM reading; default: the embedded sidecar."
    )] = None,
    out: Annotated[Path, typer.Option(help="Where nlu.json goes.")] = Path("evals/out/nlu"),
) -> None:
    """Accuracy of dates, times and affirm / negate / select / request-alternatives on SGD's
    user turns, per reader, with the time per reading."""
    import asyncio

    from evals.nlu_runner import run_nlu

    configure_logging("WARNING")
    readers = reader or ["regex", "llm", "merge"]
    unknown = set(readers) - {"regex", "llm", "merge"}
    if unknown:
        console.print(f"[red]unknown reader(s): {', '.join(sorted(unknown))}[/]")
        raise typer.Exit(2)
    report = asyncio.run(run_nlu(data=data, readers=readers, limit=limit, llm_url=llm,
                                 settings=get_settings(), out=out, console=console))
    console.print(f"results: {out / 'nlu.json'} ({report['turns']} turns)")
