"""A real agent server (real models, real LLM and Piper sidecars) and a local stand-in for
Twilio's REST API that records the requests the server sends it (hang-ups)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from evals.simulator.server import server_process
from tests.conftest import TEST_SECRET_KEY
from voice_agent.config import REPO_ROOT, Settings
from voice_agent.runtime.sidecars import free_port

AUTH_TOKEN = "e2e-test-token"
ACCOUNT_SID = "AC" + "e2" * 16


@dataclass
class TwilioRestRecorder:
    url: str
    requests: list[dict] = field(default_factory=list)


@pytest.fixture(scope="module")
def twilio_rest() -> Iterator[TwilioRestRecorder]:
    recorder = TwilioRestRecorder(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            recorder.requests.append({
                "path": self.path, "form": {k: v[0] for k, v in parse_qs(body).items()},
                "auth": self.headers.get("Authorization", ""),
            })
            payload = json.dumps({"sid": self.path.rsplit("/", 1)[-1].split(".")[0],
                                  "status": "completed"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield recorder
    server.shutdown()
    server.server_close()


@dataclass
class AgentServer:
    url: str
    settings: Settings
    proc: subprocess.Popen[bytes]
    log_path: Path


@contextlib.contextmanager
def launch_agent_server(data_dir: Path, twilio_rest_url: str,
                        **settings: str) -> Iterator[AgentServer]:
    """``voice-agent serve`` in a subprocess on the embedded models, ready; ``settings`` are
    extra ``VOICE_AGENT_*`` values (by setting name). Stopped with SIGINT afterwards."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("VOICE_AGENT_") and k not in ("LLM_BASE_URL", "TTS_BASE_URL",
                                                             "DATABASE_URL")}
    env |= {
        "VOICE_AGENT_ENV": "test",
        "VOICE_AGENT_SECRET_KEY": TEST_SECRET_KEY,
        "VOICE_AGENT_DATA_DIR": str(data_dir),
        "VOICE_AGENT_MODELS_DIR": str(REPO_ROOT / ".models"),
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_API_BASE_URL": twilio_rest_url,
    } | {f"VOICE_AGENT_{name.upper()}": value for name, value in settings.items()}
    log_path = data_dir / "server.log"
    url = f"http://127.0.0.1:{port}"
    config = Settings(data_dir=data_dir, twilio_auth_token=AUTH_TOKEN,
                      twilio_account_sid=ACCOUNT_SID, models_dir=REPO_ROOT / ".models")
    with server_process([sys.executable, "-m", "voice_agent", "serve", "--port", str(port)],
                        base_url=url, env=env, log_path=log_path) as proc:
        yield AgentServer(url=url, settings=config, proc=proc, log_path=log_path)


@pytest.fixture(scope="module")
def agent_server(tmp_path_factory: pytest.TempPathFactory,
                 twilio_rest: TwilioRestRecorder) -> Iterator[AgentServer]:
    with launch_agent_server(tmp_path_factory.mktemp("agent"), twilio_rest.url) as server:
        yield server


def sidecar_pids(server: AgentServer, module: str) -> list[int]:
    """PIDs of the server's child processes running ``python -m <module>``."""
    out = subprocess.run(["ps", "-o", "pid=,ppid=,args=", "-e"], capture_output=True, text=True)
    pids = []
    for line in out.stdout.splitlines():
        pid, ppid, args = line.split(None, 2)
        if int(ppid) == server.proc.pid and f"-m {module}" in args:
            pids.append(int(pid))
    return pids


DEMO_SCRIPT = REPO_ROOT / "evals" / "calls" / "demo" / "salon-book-basic.yaml"


async def answered_demo_call(server: AgentServer) -> tuple[Any, Any]:
    """The demo script's caller phones ``server`` (signed webhook, Media Stream) and hears
    the greeting out; returns the started stream client and the Piper caller voice."""
    from evals.script import load_script
    from evals.simulator.caller import dial
    from evals.simulator.caller_voice import make_caller_voice

    client = await dial(server_url=server.url, script=load_script(DEMO_SCRIPT),
                        auth_token=server.settings.twilio_auth_token)
    await client.start()
    assert await client.wait_agent_reply(since_s=0.0, silence_s=1.0), "no greeting"
    return client, make_caller_voice("piper")
