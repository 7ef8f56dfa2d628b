"""Supervised helper processes: the embedded LLM server and Piper's HTTP server.

Each sidecar is its own OS process (Piper is GPL-3.0 and stays at arm's length), started on
a loopback port, health-checked over HTTP, restarted when it dies, and stopped on exit.
Production points ``LLM_BASE_URL`` / ``TTS_BASE_URL`` at vLLM and a Piper deployment instead,
and no sidecar is started.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from voice_agent.store.private_files import private_dir, private_file

log = logging.getLogger(__name__)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the sidecar gets SIGKILL when its parent dies, so a killed server never
    leaves a multi-GB LLM process behind (SIGTERM is not enough: uvicorn's graceful shutdown
    first waits for the generation in flight, a minute and more on a CPU). A normal stop
    still goes SIGTERM first. A no-op where prctl is unavailable."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SidecarError(RuntimeError):
    """A sidecar could not be started or did not become healthy in time."""


@dataclass
class Sidecar:
    """One supervised child process with an HTTP health endpoint."""

    name: str
    argv: Sequence[str]
    port: int
    health_path: str
    startup_timeout_s: float = 180.0
    log_path: Path | None = None
    restart_backoff_s: float = 1.0
    # Added to the child's CPU niceness. The embedded LLM's background work (prompt prefill,
    # tool proposals) must not slow the caller's speech recognition on a small CPU box.
    nice: int = 0
    _proc: asyncio.subprocess.Process | None = field(default=None, init=False, repr=False)
    _watch: asyncio.Task[None] | None = field(default=None, init=False, repr=False)
    _stopping: bool = field(default=False, init=False, repr=False)
    restarts: int = field(default=0, init=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    async def start(self) -> None:
        await self._spawn()
        await self.wait_healthy()
        self._watch = asyncio.create_task(self._supervise(), name=f"sidecar-{self.name}")

    async def _spawn(self) -> None:
        out = None
        if self.log_path:
            private_dir(self.log_path.parent)  # logs may hold what a caller said
            out = private_file(self.log_path).open("ab")
        log.info("starting sidecar %s on port %d", self.name, self.port)
        self._proc = await asyncio.create_subprocess_exec(
            *self.argv,
            stdout=out or asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.STDOUT if out else asyncio.subprocess.DEVNULL,
            stdin=asyncio.subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=self._preexec if sys.platform == "linux" or self.nice else None,
        )
        if out:
            out.close()

    def _preexec(self) -> None:  # pragma: no cover - runs in the child before exec
        if sys.platform == "linux":
            _die_with_parent()
        if self.nice:
            os.nice(self.nice)

    async def healthy(self) -> bool:
        if self._proc is None or self._proc.returncode is not None:
            return False
        try:
            async with httpx.AsyncClient(timeout=2.0) as client:
                resp = await client.get(self.base_url + self.health_path)
            return resp.status_code < 500
        except httpx.HTTPError:
            return False

    async def wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.returncode is not None:
                raise SidecarError(
                    f"sidecar {self.name} exited with {self._proc.returncode} during startup"
                    + (f"; see {self.log_path}" if self.log_path else "")
                )
            if await self.healthy():
                log.info("sidecar %s healthy at %s", self.name, self.base_url)
                return
            await asyncio.sleep(0.25)
        raise SidecarError(f"sidecar {self.name} not healthy after {self.startup_timeout_s}s")

    async def _supervise(self) -> None:
        """Restart the process whenever it dies, backing off (up to 30 s) while it crash-loops."""
        backoff = self.restart_backoff_s
        while not self._stopping:
            assert self._proc is not None
            started = time.monotonic()
            code = await self._proc.wait()
            if self._stopping:
                return
            if time.monotonic() - started > 60:
                backoff = self.restart_backoff_s  # it ran fine for a while: not a crash loop
            self.restarts += 1
            log.error("sidecar %s died (exit %s); restarting in %.0f s", self.name, code, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)
            try:
                await self._spawn()
                await self.wait_healthy()
            except SidecarError as exc:
                log.error("sidecar %s failed to restart: %s", self.name, exc)

    async def stop(self) -> None:
        self._stopping = True
        if self._watch:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        proc = self._proc
        if proc and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()


def llm_sidecar(
    *, gguf: Path, port: int, n_ctx: int, n_threads: int, model_alias: str, log_path: Path | None,
    nice: int = 0,
) -> Sidecar:
    argv = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(gguf),
        "--model_alias", model_alias,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--n_ctx", str(n_ctx),
        "--n_threads", str(n_threads),
        "--n_batch", "512",
        # No RAM prompt cache: llama.cpp keeps the last prompt's KV in its context, which is
        # what a call's next turn reuses; the RAM cache grew past 10 GB over a 55-call eval.
    ]
    return Sidecar(name="llm", argv=argv, port=port, health_path="/v1/models", log_path=log_path,
                   nice=nice)


def piper_sidecar(*, model: Path, port: int, log_path: Path | None) -> Sidecar:
    argv = [
        sys.executable, "-m", "piper.http_server",
        "--host", "127.0.0.1",
        "--port", str(port),
        "-m", str(model),
        "--data-dir", str(model.parent),
    ]
    return Sidecar(name="tts", argv=argv, port=port, health_path="/voices", log_path=log_path)
