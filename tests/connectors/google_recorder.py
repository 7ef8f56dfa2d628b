"""A local HTTP server standing in for Google: the OAuth token endpoint (JWT-bearer grant,
as a service account uses it) and the Calendar API v3 (served by ``FakeGoogle``).

The token endpoint checks what Google checks: the grant type, the assertion's RS256
signature against the service account's public key, its audience (Google's token URI,
which google-auth claims wherever the key's ``token_uri`` points), issuer
and scope; then it mints a new opaque token with ``expires_in``. The Calendar API answers 401
to any token it did not mint or that was revoked, as Google does for an expired one.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.connectors.test_google_calendar import TOKEN, FakeGoogle, google_error

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SA_EMAIL = "agent@salon-project.iam.gserviceaccount.com"
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"  # google-auth always claims it


@dataclass
class GoogleRecorder:
    calendar: FakeGoogle
    url: str = ""
    expires_in: int = 3600
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    valid: set[str] = field(default_factory=set)
    api_auth: list[str] = field(default_factory=list)  # the bearer token of each API request
    token_error: tuple[int, dict[str, Any]] | None = None
    reject_all: bool = False  # the API refuses every token (a key without calendar access)
    public_key: Any = None

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    def mint(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self.token_requests.append(form)
        if self.token_error is not None:
            return self.token_error
        if form.get("grant_type") != JWT_BEARER:
            return 400, {"error": "unsupported_grant_type"}
        try:
            claims = jwt.decode(form["assertion"], self.public_key, algorithms=["RS256"],
                                audience=GOOGLE_TOKEN_AUDIENCE)
        except (KeyError, jwt.PyJWTError) as exc:
            return 400, {"error": "invalid_grant", "error_description": type(exc).__name__}
        if claims.get("iss") != SA_EMAIL or "calendar" not in claims.get("scope", ""):
            return 400, {"error": "invalid_scope"}
        token = f"ya29.minted-{len(self.token_requests)}"
        self.valid.add(token)
        return 200, {"access_token": token, "expires_in": self.expires_in,
                     "token_type": "Bearer"}

    def api(self, method: str, path: str, headers: dict[str, str], body: bytes
            ) -> httpx.Response:
        bearer = headers.get("authorization", "").removeprefix("Bearer ")
        self.api_auth.append(bearer)
        if self.reject_all or bearer not in self.valid:
            return google_error(401, "authError", "Invalid Credentials")
        request = httpx.Request(method, f"https://www.googleapis.com{path}", content=body,
                                headers={"authorization": f"Bearer {TOKEN}",
                                         "content-type": headers.get("content-type", "")})
        return self.calendar.handler(request)


def service_account_key(recorder: GoogleRecorder) -> str:
    """A fresh RSA key in Google's key-file format, its token URI pointing at the recorder."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    recorder.public_key = key.public_key()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return json.dumps({
        "type": "service_account", "project_id": "salon-project", "private_key_id": "k1",
        "private_key": pem, "client_email": SA_EMAIL, "client_id": "1",
        "token_uri": recorder.token_uri,
    })


@contextmanager
def google_recorder(calendar: FakeGoogle) -> Iterator[GoogleRecorder]:
    recorder = GoogleRecorder(calendar)

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, payload: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _handle(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path == "/token":
                form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                status, answer = recorder.mint(form)
                self._answer(status, json.dumps(answer).encode(), "application/json")
                return
            headers = {k.lower(): v for k, v in self.headers.items()}
            response = recorder.api(self.command, self.path, headers, body)
            self._answer(response.status_code, response.content,
                         response.headers.get("content-type", "application/json"))

        do_GET = do_POST = do_PATCH = do_DELETE = _handle

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
