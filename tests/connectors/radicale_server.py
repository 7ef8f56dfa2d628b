"""A real Radicale CalDAV server for the tests: its own process, a free port, a temporary
storage folder and htpasswd authentication (so the connector's Basic auth is exercised)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

USER = "agent"
PASSWORD = "radicale-test-password"


@dataclass(frozen=True)
class Radicale:
    url: str  # http://127.0.0.1:PORT/
    user: str
    password: str
    storage: Path

    def collection(self, name: str) -> str:
        return f"{self.url}{self.user}/{name}/"

    def make_calendar(self, name: str) -> str:
        """MKCALENDAR a collection (what an admin's calendar app would have done)."""
        url = self.collection(name)
        response = httpx.request("MKCALENDAR", url, auth=(self.user, self.password), timeout=10)
        assert response.status_code in (201, 405), response.text  # 405: exists already
        return url


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def radicale_server(workdir: Path) -> Iterator[Radicale]:
    storage = workdir / "collections"
    htpasswd = workdir / "users"
    htpasswd.write_text(f"{USER}:{PASSWORD}\n")
    config = workdir / "config"
    port = _free_port()
    config.write_text(
        "[server]\n"
        f"hosts = 127.0.0.1:{port}\n"
        "max_connections = 64\n"
        "[auth]\n"
        "type = htpasswd\n"
        f"htpasswd_filename = {htpasswd}\n"
        "htpasswd_encryption = plain\n"
        "[rights]\n"
        "type = owner_only\n"
        "[storage]\n"
        f"filesystem_folder = {storage}\n"
        "[logging]\n"
        "level = warning\n"
    )
    log = (workdir / "radicale.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "radicale", "--config", str(config)],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"radicale exited: {(workdir / 'radicale.log').read_text()}")
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield Radicale(url=url, user=USER, password=PASSWORD, storage=storage)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
