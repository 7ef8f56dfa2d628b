"""End of caller speech -> first agent audio, SIP trunk vs Twilio Media Streams, same server.

Starts ``voice-agent serve`` with SIP on (loopback; a fresh server and database for each
call, since the script books the same slot), places the same call script alternately over
Twilio (signed webhook + Media Stream) and over SIP (INVITE + RTP), and prints
each turn's latency: server side (the turn row's speech end -> first audio sent) and caller
side (the last speech frame sent -> the first agent audio heard), per transport.

    .venv/bin/python benchmarks/sip_latency.py [--rounds 1] [SCRIPT]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from evals.phone_call import run_scripted_call, stage_split
from evals.simulator.server import agent_server
from evals.simulator.sip_phone import SipTarget
from voice_agent.config import REPO_ROOT, Settings
from voice_agent.runtime.sidecars import free_port
from voice_agent.store.db import make_engine

DEMO = REPO_ROOT / "evals" / "calls" / "demo" / "salon-book-basic.yaml"


async def _call(script: Path, url: str, settings: Settings, sip: SipTarget | None,
                out: Path) -> tuple[list[float], list[float], str]:
    engine = make_engine(settings.db_url)
    try:
        call = await run_scripted_call(script_path=script, server_url=url, settings=settings,
                                       engine=engine, recording=out, console=Console(quiet=True),
                                       sip=sip)
    finally:
        engine.dispose()
    server = [v for t in call.turns if (v := stage_split(t)[-1]) is not None]
    caller = [t.latency_s for t in call.result.turns if t.latency_s is not None]
    return server, caller, call.outcome_text


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("script", nargs="?", default=str(DEMO))
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    console = Console()
    sip_port = free_port()
    results: dict[str, list[tuple[list[float], list[float], str]]] = {"twilio": [], "sip": []}
    env = {"VOICE_AGENT_SIP_ENABLED": "true", "VOICE_AGENT_SIP_PORT": str(sip_port)}
    for n in range(args.rounds):
        for name, sip in (("twilio", None), ("sip", SipTarget("127.0.0.1", sip_port))):
            # A fresh server and database per call: the script books the same slot each time.
            with tempfile.TemporaryDirectory() as tmp, \
                    agent_server(Path(tmp), console=console, env=env) as url:
                console.print(f"[dim]round {n + 1}: {name} call[/]")
                settings = Settings(_env_file=None, data_dir=Path(tmp))
                results[name].append(asyncio.run(_call(
                    Path(args.script), url, settings, sip, Path(tmp) / "caller.wav")))
    table = Table(title="end of caller speech -> first agent audio (s)")
    for col in ("transport", "outcome", "turns", "server per turn", "server median",
                "caller median"):
        table.add_column(col)
    for name, runs in results.items():
        for server, caller, outcome in runs:
            table.add_row(name, outcome, str(len(server)), " ".join(f"{v:.2f}" for v in server),
                          f"{statistics.median(server):.2f}" if server else "-",
                          f"{statistics.median(caller):.2f}" if caller else "-")
    console.print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
