"""A real agent server in a subprocess, for the simulated caller to phone.

``voice-agent serve`` on the embedded defaults with its data under a folder of the caller's
choosing; the context manager yields the base URL once ``/readyz`` is green and stops the
server (and with it the sidecars it supervises) on exit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from rich.console import Console

from voice_agent.config import REPO_ROOT
from voice_agent.runtime.sidecars import free_port

READY_TIMEOUT_S = 600


def wait_ready(base_url: str, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before it was ready")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"server not ready after {timeout_s:.0f} s")


@contextlib.contextmanager
def server_process(argv: list[str], *, base_url: str, env: dict[str, str], log_path: Path,
                   ready_timeout_s: float = READY_TIMEOUT_S) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` (a server answering ``/readyz``) from the repository, its output in
    ``log_path``; yields the process once ``base_url`` is ready; on exit stops it with SIGINT
    (so it stops its sidecars) and kills it if it has not exited within 30 s."""
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(argv, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                                cwd=REPO_ROOT)
        try:
            wait_ready(base_url, proc, ready_timeout_s)
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextlib.contextmanager
def agent_server(data_dir: Path, port: int = 0, *, console: Console,
                 env: dict[str, str] | None = None) -> Iterator[str]:
    """Run ``voice-agent serve`` on the embedded defaults with its data under ``data_dir``;
    yields the base URL once /readyz is green, stops the server on exit. ``env`` adds to
    (or overrides) the server's environment, e.g. a bench profile's settings."""
    port = port or free_port()
    # No Twilio account behind a local run: the simulated caller sees the hang-up on the socket.
    env = os.environ | (env or {}) | {"VOICE_AGENT_DATA_DIR": str(data_dir),
                                      "VOICE_AGENT_ENV": "dev",
                                      "VOICE_AGENT_TWILIO_HANG_UP": "false"}
    for key in ("DATABASE_URL", "VOICE_AGENT_DATABASE_URL"):
        env.pop(key, None)
    base_url = f"http://127.0.0.1:{port}"
    server_log = data_dir / "server.log"
    console.print(f"[dim]starting the agent server on {base_url} (log: {server_log})[/]")
    t0 = time.monotonic()
    with server_process([sys.executable, "-m", "voice_agent", "serve", "--port", str(port)],
                        base_url=base_url, env=env, log_path=server_log):
        console.print(f"[dim]server ready in {time.monotonic() - t0:.1f} s "
                      "(whisper loaded, LLM and Piper sidecars healthy)[/]")
        yield base_url
