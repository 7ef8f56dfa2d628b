"""A caller handed to a human: the end of the stream redirects the call with <Dial>."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from pipecat.frames.frames import EndFrame

from voice_agent.telephony.twilio_serializer import SafeTwilioFrameSerializer

ACCOUNT, CALL = "AC" + "1" * 32, "CA" + "2" * 32


@pytest.fixture
def rest() -> Iterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            seen.append({"path": self.path} | {k: v[0] for k, v in parse_qs(body).items()})
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def _serializer(base_url: str) -> SafeTwilioFrameSerializer:
    return SafeTwilioFrameSerializer("MZ" + "3" * 32, call_sid=CALL, account_sid=ACCOUNT,
                                     auth_token="tok", base_url=base_url)


async def test_end_of_call_hangs_up_by_default(rest):
    url, seen = rest
    await _serializer(url).serialize(EndFrame())
    assert seen == [{"path": f"/2010-04-01/Accounts/{ACCOUNT}/Calls/{CALL}.json",
                     "Status": "completed"}]


async def test_transfer_redirects_the_call_with_dial(rest):
    url, seen = rest
    serializer = _serializer(url)
    serializer.transfer_to = "+15557654321"
    await serializer.serialize(EndFrame())
    assert len(seen) == 1 and "Status" not in seen[0]
    assert "<Dial>+15557654321</Dial>" in seen[0]["Twiml"]
