"""A per-call token that binds a Media Stream to the webhook request Twilio signed.

The webhook (signature-checked) puts ``HMAC(auth_token, call_sid|business|caller|attestation)``
(the attestation is Twilio's ``StirVerstat``: how far the carrier vouches for the caller ID)
into the TwiML ``<Parameter>``s; the WebSocket accepts a stream only when its ``start`` message
carries a matching token, so nobody can open a stream the webhook did not hand out.
"""

from __future__ import annotations

import hashlib
import hmac


def stream_token(secret: str, *, call_sid: str, business: str, caller: str,
                 attestation: str = "") -> str:
    message = f"{call_sid}|{business}|{caller}|{attestation}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def token_valid(
    secret: str, token: str | None, *, call_sid: str, business: str, caller: str,
    attestation: str = "",
) -> bool:
    if not token:
        return False
    expected = stream_token(secret, call_sid=call_sid, business=business, caller=caller,
                            attestation=attestation)
    # bytes, not str: compare_digest raises TypeError on non-ASCII str (attacker input)
    return hmac.compare_digest(expected.encode(), token.encode())
