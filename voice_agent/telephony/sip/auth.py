"""SIP digest authentication of the trunk (RFC 3261 §22.4, RFC 2617 MD5, qop=auth).

Stateless nonces: ``time.hex-HMAC(secret, time)``, valid for ``nonce_ttl_s``; no per-call
state for an attacker to fill. Pure functions plus one small class; no sockets.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable

__all__ = ["DigestAuth", "digest_response", "parse_digest"]

_PARAM = re.compile(r'(\w+)\s*=\s*(?:"([^"]*)"|([^\s,]+))')


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def parse_digest(value: str) -> dict[str, str]:
    if not value[:7].lower() == "digest ":
        return {}
    return {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
            for m in _PARAM.finditer(value[7:1024])}


def digest_response(*, username: str, realm: str, password: str, method: str, uri: str,
                    nonce: str, nc: str | None = None, cnonce: str | None = None,
                    qop: str | None = None) -> str:
    ha1 = _md5(f"{username}:{realm}:{password}")
    ha2 = _md5(f"{method}:{uri}")
    if qop:
        return _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return _md5(f"{ha1}:{nonce}:{ha2}")


class DigestAuth:
    def __init__(self, *, username: str, password: str, realm: str = "voice-agent",
                 nonce_ttl_s: float = 300.0, clock: Callable[[], float] = time.time) -> None:
        self.username, self._password, self.realm = username, password, realm
        self._secret = secrets.token_bytes(32)
        self._ttl = nonce_ttl_s
        self._clock = clock

    def _nonce(self, at: int) -> str:
        mac = hmac.new(self._secret, str(at).encode(), hashlib.sha256).hexdigest()[:32]
        return f"{at:x}.{mac}"

    def challenge(self) -> str:
        """The ``WWW-Authenticate`` value of a 401."""
        nonce = self._nonce(int(self._clock()))
        return f'Digest realm="{self.realm}", nonce="{nonce}", algorithm=MD5, qop="auth"'

    def _nonce_fresh(self, nonce: str) -> bool:
        at_hex, _, _ = nonce.partition(".")
        try:
            at = int(at_hex, 16)
        except ValueError:
            return False
        return (hmac.compare_digest(nonce, self._nonce(at))
                and 0 <= self._clock() - at <= self._ttl)

    def verify(self, method: str, authorization: str | None) -> bool:
        if not authorization:
            return False
        p = parse_digest(authorization)
        if p.get("username") != self.username or p.get("realm") != self.realm:
            return False
        nonce, uri, response = p.get("nonce", ""), p.get("uri", ""), p.get("response", "")
        if not self._nonce_fresh(nonce) or p.get("algorithm", "MD5").upper() != "MD5":
            return False
        qop = p.get("qop")
        if qop not in (None, "auth"):
            return False
        expected = digest_response(username=self.username, realm=self.realm,
                                   password=self._password, method=method, uri=uri,
                                   nonce=nonce, nc=p.get("nc"), cnonce=p.get("cnonce"), qop=qop)
        return hmac.compare_digest(expected, response.lower())
