"""Text messages through Twilio's Messaging REST API.

``POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`` with form fields ``To``,
``From`` and ``Body``, HTTP basic auth ``AccountSid:AuthToken``; Twilio answers 201 with the
message resource (``sid``, ``status``). The base URL is a setting (tests point it at a local
recorder). Failures are translated at the boundary into :class:`SmsError`, a
``ConnectorError``, so the outbox reconciler treats a message like any other operation:
retryable (timeouts, 5xx, 429) stays pending for another attempt, anything else (an invalid
number, a landline: Twilio's 400 with code 21211 / 21614) is escalated. The Messaging API has
no idempotency key: delivery is at least once (a message whose answer was lost may be sent
twice), never zero times.

Phone numbers are masked in every log line (the full number is only in the outbox row).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx

from connectors.base import ConnectorError
from voice_agent.logging_utils import mask_phone

__all__ = ["SmsError", "TwilioSms", "message_form"]

log = logging.getLogger(__name__)
MAX_BODY = 640  # four SMS segments; confirmations are far shorter


class SmsError(ConnectorError):
    """The message was not accepted (``retryable``: worth another attempt later)."""


def message_form(*, to: str, sender: str, body: str) -> dict[str, str]:
    """The form Twilio's Messages endpoint takes (a pure function: tested without HTTP)."""
    if not to.strip() or not sender.strip():
        raise SmsError("a text message needs a To and a From number")
    return {"To": to.strip(), "From": sender.strip(), "Body": body.strip()[:MAX_BODY]}


@dataclass(frozen=True)
class SentMessage:
    sid: str
    status: str


class TwilioSms:
    def __init__(self, *, account_sid: str, auth_token: str, sender: str,
                 base_url: str = "https://api.twilio.com", timeout_s: float = 10.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.sender = sender
        self._path = f"/2010-04-01/Accounts/{account_sid}/Messages.json"
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), auth=httpx.BasicAuth(account_sid, auth_token),
            timeout=httpx.Timeout(timeout_s), transport=transport, follow_redirects=False)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(self, *, to: str, body: str) -> SentMessage:
        form = message_form(to=to, sender=self.sender, body=body)
        try:
            response = await self._client.post(self._path, data=form)
        except httpx.TimeoutException:
            raise SmsError("twilio messages timed out", retryable=True) from None
        except httpx.TransportError as exc:
            raise SmsError(f"could not reach twilio ({type(exc).__name__})",
                           retryable=True) from None
        status = response.status_code
        if not 200 <= status < 300:
            code = _twilio_code(response)
            log.warning("text to %s refused: HTTP %d (twilio code %s)", mask_phone(to), status,
                        code)
            raise SmsError(f"twilio messages answered HTTP {status} (code {code})",
                           retryable=status >= 500 or status in (408, 429))
        try:
            data = response.json()
            sent = SentMessage(sid=str(data["sid"]), status=str(data.get("status", "")))
        except (ValueError, KeyError, TypeError):
            raise SmsError("twilio messages answered without a message sid",
                           retryable=False) from None
        log.info("text %s to %s: %s", sent.sid, mask_phone(to), sent.status)
        return sent


def _twilio_code(response: httpx.Response) -> str:
    try:
        return str(response.json().get("code", "?"))
    except (ValueError, AttributeError):
        return "?"
