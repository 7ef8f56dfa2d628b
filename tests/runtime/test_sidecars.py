"""Sidecar supervision with a real child process (``python -m http.server``)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time

import pytest

from voice_agent.runtime.sidecars import Sidecar, SidecarError, free_port


def http_server(port: int, **kwargs: object) -> Sidecar:
    argv = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    return Sidecar(name="web", argv=argv, port=port, health_path="/", startup_timeout_s=20,
                   restart_backoff_s=0.2, **kwargs)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def eventually(predicate, within_s: float = 10.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(0.1)
    return False


async def test_starts_restarts_after_a_crash_and_stops(tmp_path) -> None:
    sidecar = http_server(free_port(), log_path=tmp_path / "logs" / "web.log")
    try:
        await sidecar.start()
        assert await sidecar.healthy()
        first = sidecar.pid
        assert first is not None and alive(first)

        os.kill(first, signal.SIGKILL)

        async def restarted() -> bool:
            return sidecar.restarts == 1 and sidecar.pid != first and await sidecar.healthy()

        assert await eventually(restarted), f"restarts={sidecar.restarts}"
        second = sidecar.pid
        assert second is not None and alive(second)
        assert not alive(first)
    finally:
        await sidecar.stop()
    assert sidecar.pid is not None and not alive(sidecar.pid)
    assert not await sidecar.healthy()
    assert sidecar.restarts == 1  # stopping is not a crash
    assert (tmp_path / "logs" / "web.log").exists()


async def test_command_that_exits_immediately_fails_start() -> None:
    sidecar = Sidecar(name="broken", argv=[sys.executable, "-c", "raise SystemExit(3)"],
                      port=free_port(), health_path="/", startup_timeout_s=10)
    started = time.monotonic()
    with pytest.raises(SidecarError, match="exited with 3"):
        await sidecar.start()
    assert time.monotonic() - started < 5
    await sidecar.stop()


async def test_never_healthy_times_out() -> None:
    sidecar = Sidecar(name="mute", argv=[sys.executable, "-c", "import time; time.sleep(30)"],
                      port=free_port(), health_path="/", startup_timeout_s=1)
    try:
        with pytest.raises(SidecarError, match="not healthy"):
            await sidecar.start()
    finally:
        await sidecar.stop()
    assert sidecar.pid is not None and not alive(sidecar.pid)


async def test_not_started_is_not_healthy() -> None:
    sidecar = http_server(free_port())
    assert sidecar.pid is None
    assert not await sidecar.healthy()
    await sidecar.stop()  # a no-op


def test_sidecar_dies_with_its_parent(tmp_path) -> None:
    """A parent killed with SIGKILL (no cleanup runs) must not leave its sidecar behind."""
    import subprocess
    import textwrap

    pid_file = tmp_path / "child.pid"
    parent = textwrap.dedent(f"""
        import asyncio, sys
        from voice_agent.runtime.sidecars import Sidecar, free_port
        async def main():
            port = free_port()
            s = Sidecar(name="t", argv=[sys.executable, "-m", "http.server", str(port),
                                        "--bind", "127.0.0.1"], port=port, health_path="/")
            await s.start()
            open({str(pid_file)!r}, "w").write(str(s.pid))
            await asyncio.sleep(60)
        asyncio.run(main())
    """)
    proc = subprocess.Popen([sys.executable, "-c", parent])
    deadline = time.monotonic() + 30
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    child = int(pid_file.read_text())
    proc.kill()
    proc.wait()
    for _ in range(50):
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(child, signal.SIGKILL)
    raise AssertionError("the sidecar outlived its parent")


async def test_nice_lowers_the_child_priority_only() -> None:
    """The embedded LLM runs niced so speech recognition wins the CPU; the parent is untouched."""
    own = os.getpriority(os.PRIO_PROCESS, 0)
    sidecar = http_server(free_port(), nice=3)
    await sidecar.start()
    try:
        assert sidecar.pid is not None
        assert os.getpriority(os.PRIO_PROCESS, sidecar.pid) == min(own + 3, 19)
        assert os.getpriority(os.PRIO_PROCESS, 0) == own
    finally:
        await sidecar.stop()

