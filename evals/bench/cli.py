"""``voice-agent bench latency`` and ``voice-agent bench load`` (mounted by ``evals.cli``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from voice_agent.logging_utils import configure_logging

# Wide enough for the tables when the output goes to a log rather than a terminal.
console = Console(width=None if sys.stdout.isatty() else 110)
bench_app = typer.Typer(help="Latency and load benchmarks over simulated phone calls.")

ScriptsOpt = Annotated[int, typer.Option(
    "--scripts", help="How many scripts to pick from evals/calls/*/ (deterministic, spread "
    "over the categories).")]
ScriptOpt = Annotated[list[Path] | None, typer.Option(
    "--script", help="Replay these script files instead (repeat the option).")]
ProfileOpt = Annotated[str, typer.Option(
    help="cpu (embedded defaults) or gpu (vLLM URL, whisper on CUDA): settings only, see "
    "evals/bench/profiles.py.")]
LlmOpt = Annotated[str | None, typer.Option(
    help="OpenAI-compatible LLM base URL for both agents (default: the profile's).")]


def _scripts(n: int, explicit: list[Path] | None) -> list[Path]:
    from evals.bench.latency import pick_scripts

    return list(explicit) if explicit else pick_scripts(n)


@bench_app.command("latency")
def bench_latency(
    scripts: ScriptsOpt = 12,
    script: ScriptOpt = None,
    out: Annotated[Path, typer.Option(help="Where bench.json and report.html go.")] = Path(
        "evals/out/bench"),
    profile: ProfileOpt = "cpu",
    llm_url: LlmOpt = None,
    stock: Annotated[bool, typer.Option(help="Also run stock pipecat on the same scripts.")
                     ] = True,
    rebuild: Annotated[bool, typer.Option(
        help="Place no call: recompute bench.json and report.html from the run already in "
        "--out (its turn rows, stock breakdowns and caller-side figures).")] = False,
) -> None:
    """End of caller speech -> first agent audio, by stage: ours vs stock pipecat.

    Replays the scripts in audio mode through the real Twilio path, first against our agent
    server, then against stock pipecat on the same models; prints p50/p95/p99 of each stage,
    of our own overhead and of the caller-side figure, with the ratio ours/stock.
    """
    import asyncio

    from evals.bench.latency import print_table, run_latency_bench
    from evals.bench.report import write_html

    configure_logging("WARNING")
    if rebuild:
        from evals.bench.latency import rebuild_document

        if not (out / "bench.json").is_file():
            console.print(f"[red]no bench.json in {out}[/]")
            raise typer.Exit(2)
        document = rebuild_document(out)
        print_table(document, console)
        console.print(f"rebuilt {out / 'bench.json'} and {write_html(document, out)}")
        return
    paths = _scripts(scripts, script)
    console.print(f"{len(paths)} scripts: " + ", ".join(p.stem for p in paths), highlight=False)
    try:
        run = asyncio.run(run_latency_bench(scripts=paths, out=out, profile=profile,
                                            llm_url=llm_url, stock=stock, console=console))
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    print_table(run.document, console)
    html = write_html(run.document, out)
    console.print(f"written {out / 'bench.json'} and {html}")


@bench_app.command("load")
def bench_load(
    calls: Annotated[int, typer.Option(help="Calls placed at each concurrency.")] = 6,
    concurrency: Annotated[str, typer.Option(
        help="Simultaneous calls, comma-separated levels, e.g. 1,2,3.")] = "1,2,3",
    script: ScriptOpt = None,
    out: Annotated[Path, typer.Option(help="Where load.json goes.")] = Path("evals/out/bench"),
    profile: ProfileOpt = "cpu",
    llm_url: LlmOpt = None,
    max_concurrent_calls: Annotated[int | None, typer.Option(
        help="The server's admission limit (VOICE_AGENT_MAX_CONCURRENT_CALLS); default: "
        "the server's setting.")] = None,
    p95_limit: Annotated[float, typer.Option(help="Capacity bound on p95 (s).")] = 2.5,
) -> None:
    """C simultaneous simulated calls against one agent server, for each C: completion,
    refusals, booking correctness, latency; the capacity is the largest C within the bound."""
    import asyncio

    from evals.bench.load import print_load_table, run_load_bench
    from evals.bench.report import write_html

    configure_logging("WARNING")
    try:
        levels = [int(c) for c in concurrency.split(",") if c.strip()]
    except ValueError:
        levels = []
    if not levels or min(levels) < 1:
        console.print("[red]--concurrency is a comma-separated list of positive integers[/]")
        raise typer.Exit(2)
    paths = _scripts(calls, script)
    try:
        doc = asyncio.run(run_load_bench(
            scripts=paths, concurrency=levels, out=out, profile=profile, llm_url=llm_url,
            max_concurrent_calls=max_concurrent_calls, limit_s=p95_limit, console=console))
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    print_load_table(doc, console)
    html = write_html(doc, out, kind="load")
    console.print(f"written {out / 'load.json'} and {html}")
