"""Running SIPp (Debian sip-tester) against the SIP server in the test's event loop, and
reading its statistics file."""

from __future__ import annotations

import asyncio
import csv
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from voice_agent.runtime.sidecars import free_port

SCENARIOS = Path(__file__).parent / "scenarios"
SIPP = shutil.which("sipp")
needs_sipp = pytest.mark.skipif(
    SIPP is None, reason="sipp not installed (Debian sip-tester; scripts/setup.sh installs it)")


@dataclass
class SippRun:
    returncode: int
    stats: dict[str, str]
    errors: str
    output: str

    def count(self, name: str) -> int:
        return int(self.stats.get(f"{name}(C)", "0") or 0)

    def summary(self) -> str:
        return (f"SIPp: {self.count('SuccessfulCall')} successful, {self.count('FailedCall')} "
                f"failed, {self.count('Retransmissions')} retransmissions, "
                f"{self.count('OutOfCallMsgs')} out-of-call messages")


async def run_sipp(port: int, tmp: Path, *args: str, scenario: Path | None = None,
                   builtin: str | None = None, timeout_s: float = 60.0,
                   service: str = "+15550001111") -> SippRun:
    assert SIPP is not None
    stat = tmp / f"stat-{free_port()}.csv"
    err = tmp / f"err-{stat.stem}.log"
    cmd = [SIPP, f"127.0.0.1:{port}", "-s", service, "-i", "127.0.0.1",
           "-p", str(free_port()), "-mp", str(free_port()), "-nostdin", "-trace_stat",
           "-stf", str(stat), "-fd", "1", "-trace_err", "-error_file", str(err),
           "-timeout", f"{int(timeout_s)}s", "-timeout_error", "-max_recv_loops", "10000"]
    cmd += ["-sf", str(scenario)] if scenario else ["-sn", builtin or "uac"]
    proc = await asyncio.create_subprocess_exec(*cmd, *args, cwd=tmp,
                                                stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout_s + 15)
    except TimeoutError:
        proc.kill()
        out, _ = await proc.communicate()
    rows = list(csv.reader(stat.read_text().splitlines(), delimiter=";")) if stat.exists() else []
    stats = dict(zip(rows[0], rows[-1], strict=False)) if len(rows) > 1 else {}
    errors = err.read_text(errors="replace") if err.exists() else ""
    return SippRun(proc.returncode or 0, stats, errors, out.decode(errors="replace")[-3000:])


def scenario_from(template: str, tmp: Path, **values: object) -> Path:
    text = (SCENARIOS / template).read_text()
    for key, value in values.items():
        text = text.replace("{" + key + "}", str(value))
    path = tmp / template
    path.write_text(text)
    return path
