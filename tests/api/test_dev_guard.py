"""Development mode never faces the outside: a non-loopback peer is refused, and
``voice-agent serve`` will not bind a public address in dev."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from voice_agent.config import REPO_ROOT


@pytest.mark.parametrize("peer", ["203.0.113.9", "10.0.0.5", "testclient"])
def test_dev_mode_refuses_a_non_loopback_peer(make_client, peer: str) -> None:
    app = make_client(env="dev").app
    with TestClient(app, client=(peer, 40000)) as client:
        assert client.get("/healthz").status_code == 403
        with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect(
                "/telephony/twilio/media/anything"):
            pass
    assert info.value.reason == "development mode serves loopback only"


@pytest.mark.parametrize("peer", ["127.0.0.1", "::1"])
def test_dev_mode_serves_loopback(make_client, peer: str) -> None:
    app = make_client(env="dev").app
    with TestClient(app, client=(peer, 40000)) as client:
        assert client.get("/healthz").status_code == 200


def test_outside_dev_any_peer_is_served(make_client) -> None:
    app = make_client(env="test").app
    with TestClient(app, client=("203.0.113.9", 40000)) as client:
        assert client.get("/healthz").status_code == 200


def _serve(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("VOICE_AGENT_", "TWILIO_"))}
    return subprocess.run([sys.executable, "-m", "voice_agent", "serve", *args],
                          env=clean | env, cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=60)


def test_serve_refuses_a_public_bind_in_dev(tmp_path) -> None:
    done = _serve("--host", "0.0.0.0", "--port", "1", VOICE_AGENT_ENV="dev",
                  VOICE_AGENT_DATA_DIR=str(tmp_path))
    assert done.returncode == 2, done.stderr
    assert "refusing to listen on '0.0.0.0' in development mode" in done.stdout
    assert not (tmp_path / "voice_agent.db").exists()  # nothing started
