"""A simulated caller that phones the agent exactly as Twilio would.

``place_call`` first POSTs the voice webhook (form fields and ``X-Twilio-Signature`` as Twilio
computes them), reads the ``<Connect><Stream>`` TwiML, then opens the Media Streams WebSocket
(its upgrade signed over the stream URL, as Twilio signs it) and
plays the call script: it waits for the greeting, says each line (chosen by
:func:`evals.simulator.caller_policy.next_caller_line`, synthesised by the caller's voice) as
real-time 20 ms μ-law frames, or types digits as DTMF when asked to, and waits for the agent's
reply to finish before the next line. With no lines left it hangs up when the agent says goodbye
or asks nothing twice (EVAL_FORMAT's rule 5), then sends ``stop`` itself.
"""

from __future__ import annotations

import asyncio
import logging
import wave
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
import numpy as np
from twilio.request_validator import RequestValidator
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake, InvalidURI

from evals.script import CallScript
from evals.simulator import twilio_messages as tm
from evals.simulator.caller_policy import ScriptedCaller, spell
from evals.simulator.caller_voice import CallerVoice
from evals.simulator.media_stream import EventCallback, MediaStreamClient
from evals.simulator.phone_line import PhoneLine
from evals.simulator.sip_phone import SipPhoneClient, SipTarget, dial_sip
from voice_agent.telephony.codec import SAMPLE_RATE, Int16Array

__all__ = [
    "CallResult",
    "MediaStreamClient",
    "PhoneClient",
    "SimCallerError",
    "SipTarget",
    "TurnTiming",
    "dial",
    "place_call",
    "write_stereo_wav",
]

log = logging.getLogger(__name__)

# Given the stream and the time the caller last stopped speaking, what did the agent say since?
PhoneClient = MediaStreamClient | SipPhoneClient  # Twilio Media Stream, or a SIP trunk call
AgentTextProvider = Callable[[PhoneClient, float], Awaitable[str | None]]
WEBHOOK_PATH = "/telephony/twilio/voice"
TO_NUMBER = "+15550001111"
FIRST_AUDIO_TIMEOUT_S = 30.0
HANGUP_WAIT_S = 20.0
MAX_HELD_TURNS = 3  # lines in a row that do not advance the script before the next is forced


class SimCallerError(RuntimeError):
    """The call could not be placed (webhook refused, bad TwiML, socket failed to open)."""


@dataclass(frozen=True, slots=True)
class TurnTiming:
    """One caller turn; times in seconds since the stream started."""

    line: str
    caller_end_s: float
    first_agent_audio_s: float | None
    latency_s: float | None  # first agent audio received - caller end of speech
    label: str | None = None  # what the line answers (caller_policy.CallerLine.label)
    heard: str | None = None  # the agent's words the line answered, as the caller heard them


@dataclass(slots=True)
class CallResult:
    call_sid: str
    stream_sid: str
    caller_lines_said: list[str] = field(default_factory=list)
    agent_audio_seconds: float = 0.0
    greeting_s: float | None = None  # when the agent's first audio arrived
    turns: list[TurnTiming] = field(default_factory=list)
    closed_by: Literal["server", "caller", "timeout"] = "caller"
    recording_path: Path | None = None
    media_sent: int = 0
    marks_echoed: list[str] = field(default_factory=list)


async def place_call(
    *,
    server_url: str,
    script: CallScript,
    auth_token: str,
    account_sid: str | None = None,
    recording_path: Path | None = None,
    on_event: EventCallback | None = None,
    reply_silence_s: float = 1.2,
    max_call_s: float = 600,
    agent_text_provider: AgentTextProvider | None = None,
    voice: CallerVoice | None = None,
    line: PhoneLine | None = None,
    pin_clock: bool = True,
    sip: SipTarget | None = None,
) -> CallResult:
    """Call the agent at ``server_url`` (e.g. ``http://127.0.0.1:8000``) and play ``script``.

    ``agent_text_provider(client, since_s)`` returns what the agent said since the caller last
    stopped speaking (None if unknown), e.g. by transcribing the received audio; without it
    every agent reply counts as a question that any scripted line answers. ``line`` degrades the
caller's audio as a worse telephone line would (band, noise, packet loss). ``pin_clock`` asks
    the server to run the call on the script's ``now``. ``account_sid``
    defaults to a random ``AC...`` id. With ``sip`` the call goes to the server's SIP trunk
    listener at that address (INVITE, RTP) instead of through Twilio.
    """
    emit = on_event or (lambda kind, text: None)
    voice = voice or CallerVoice()
    await _say_ready(voice, script)
    client: PhoneClient
    if sip is not None:
        try:
            client = await dial_sip(sip, caller=script.caller.phone,
                                    now=script.now if pin_clock else None)
        except (ConnectionError, OSError) as exc:
            raise SimCallerError(f"SIP call to {sip.host}:{sip.port} failed: {exc}") from None
    else:
        client = await dial(
            server_url=server_url, script=script, auth_token=auth_token,
            account_sid=account_sid, on_event=on_event, pin_clock=pin_clock,
        )
    result = CallResult(
        call_sid=client.call_sid, stream_sid=client.stream_sid, recording_path=recording_path
    )
    client.line_noise = (line or PhoneLine()).idle_noise()
    timed_out = False
    try:
        await client.start()
        async with asyncio.timeout(max_call_s):
            await _converse(
                client, script, result, emit, reply_silence_s, agent_text_provider, voice,
                line or PhoneLine(),
            )
            if not await _wait_closed(client, HANGUP_WAIT_S):
                emit("timeout", f"agent did not hang up within {HANGUP_WAIT_S:.0f} s")
    except TimeoutError:
        timed_out = not client.closed.is_set()
        emit("timeout", f"call exceeded {max_call_s:.0f} s")
    finally:
        await client.stop()
    result.closed_by = "timeout" if timed_out else (client.closed_by or "caller")
    _collect(client, result)
    emit("hangup", f"closed by {result.closed_by}")
    return result


async def dial(
    *,
    server_url: str,
    script: CallScript,
    auth_token: str,
    account_sid: str | None = None,
    on_event: EventCallback | None = None,
    pin_clock: bool = True,
) -> MediaStreamClient:
    """Ring the agent like Twilio (signed webhook, TwiML) and open the media stream.

    The returned client is not started yet: ``await client.start()`` sends ``connected`` and
    ``start`` and begins the 20 ms media clock.
    """
    account_sid = account_sid or tm.new_sid("AC")
    call_sid, stream_sid = tm.new_sid("CA"), tm.new_sid("MZ")
    target = await _post_webhook(
        server_url, script, auth_token, account_sid, call_sid, pin_clock=pin_clock
    )
    ws_url = _local_ws_url(target.url, server_url)
    if on_event:
        on_event("webhook", f"stream {ws_url}")
    # Twilio signs the upgrade like a webhook: over the stream URL exactly as the TwiML gave
    # it, with no parameters (it is a GET).
    signature = RequestValidator(auth_token).compute_signature(target.url, {})
    try:
        ws = await connect(ws_url, compression=None, user_agent_header="Twilio.TmeWs/1.0",
                           additional_headers={"X-Twilio-Signature": signature})
    except (OSError, InvalidHandshake, InvalidURI) as exc:
        raise SimCallerError(f"cannot open media stream {ws_url}: {exc}") from None
    return MediaStreamClient(
        ws,
        account_sid=account_sid,
        call_sid=call_sid,
        stream_sid=stream_sid,
        custom_parameters=target.parameters,
        on_event=on_event,
    )


async def _say_ready(voice: CallerVoice, script: CallScript) -> None:
    """Synthesise the caller's lines before dialling (the voice caches them): a person
    answers at once, and a synthesis made during the call competes with the agent for the
    cores, so that on a slow CPU the caller had answered more than 8 s late ("no input")."""
    facts = script.caller.facts
    texts = [t.say for t in script.caller.turns if t.say]
    if facts.get("name"):
        texts += [spell(facts["name"])]
    for text in dict.fromkeys(texts):
        try:
            await voice.synthesize(text)
        except Exception as exc:  # the call itself reports a voice that cannot speak
            log.warning("caller voice could not prepare %r: %s", text[:40], exc)
            return


async def _wait_closed(client: PhoneClient, timeout_s: float) -> bool:
    try:
        async with asyncio.timeout(timeout_s):
            await client.closed.wait()
    except TimeoutError:
        return False
    return True


async def _converse(
    client: PhoneClient,
    script: CallScript,
    result: CallResult,
    emit: EventCallback,
    reply_silence_s: float,
    agent_text_provider: AgentTextProvider | None,
    voice: CallerVoice,
    phone_line: PhoneLine,
) -> None:
    if not await client.wait_agent_reply(
        since_s=0.0, silence_s=reply_silence_s, first_audio_timeout_s=FIRST_AUDIO_TIMEOUT_S
    ):
        _no_reply(client, emit, "greeting")
    result.greeting_s = client.first_agent_audio_after(0.0)
    caller = ScriptedCaller(script.caller.turns, script.caller.facts,
                            caller_id=script.caller.phone, max_held=MAX_HELD_TURNS)
    last_end_s = 0.0
    while not client.closed.is_set():
        text = await agent_text_provider(client, last_end_s) if agent_text_provider else None
        line = caller.reply(text)
        if line is None:
            break
        emit("caller", line.text)
        if line.dtmf:
            for digit in line.dtmf:
                await client.send_dtmf(digit)
            end_s = client.now()
        else:
            end_s = await client.speak(phone_line.apply(await voice.synthesize(line.text)))
        last_end_s = end_s
        result.caller_lines_said.append(line.text)
        if not await client.wait_agent_reply(
            since_s=end_s, silence_s=reply_silence_s, first_audio_timeout_s=FIRST_AUDIO_TIMEOUT_S
        ):
            _no_reply(client, emit, f"caller turn {len(result.caller_lines_said)}")
        first = client.first_agent_audio_after(end_s)
        latency = None if first is None else first - end_s
        result.turns.append(TurnTiming(line.text, end_s, first, latency, line.label, text))


def _no_reply(client: PhoneClient, emit: EventCallback, after: str) -> None:
    if not client.closed.is_set():
        log.warning(
            "sim caller: no agent audio within %.0f s after %r", FIRST_AUDIO_TIMEOUT_S, after
        )
        emit("timeout", f"no agent reply within {FIRST_AUDIO_TIMEOUT_S:.0f} s")


def _collect(client: PhoneClient, result: CallResult) -> None:
    result.agent_audio_seconds = client.agent_audio_seconds
    result.media_sent = client.media_sent
    result.marks_echoed = list(client.marks_echoed)
    if result.recording_path is not None:
        write_stereo_wav(result.recording_path, client.recording())


def write_stereo_wav(path: Path, samples: Int16Array) -> None:
    """Write (n, 2) int16 samples as an 8 kHz 16-bit stereo WAV."""
    data = np.asarray(samples, dtype="<i2").reshape(-1, 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(data.tobytes())


# --- webhook ---------------------------------------------------------------------------------


async def _post_webhook(
    server_url: str,
    script: CallScript,
    auth_token: str,
    account_sid: str,
    call_sid: str,
    *,
    pin_clock: bool = True,
) -> tm.StreamTarget:
    url = f"{server_url.rstrip('/')}{WEBHOOK_PATH}?business={quote(script.business, safe='')}"
    if pin_clock:  # the script's pinned "now" (honoured by non-production servers only)
        url += f"&now={quote(script.now.isoformat(), safe='')}"
    params = {
        "AccountSid": account_sid,
        "ApiVersion": "2010-04-01",
        "CallSid": call_sid,
        "CallStatus": "ringing",
        "Called": TO_NUMBER,
        "Caller": script.caller.phone,
        "Direction": "inbound",
        "From": script.caller.phone,
        "To": TO_NUMBER,
    }
    signature = RequestValidator(auth_token).compute_signature(url, params)
    headers = {"X-Twilio-Signature": signature, "User-Agent": "TwilioProxy/1.1"}
    try:
        async with httpx.AsyncClient(timeout=15.0) as http:
            resp = await http.post(url, data=params, headers=headers)
    except httpx.HTTPError as exc:
        raise SimCallerError(f"webhook {url} failed: {exc}") from None
    if resp.status_code != 200:
        raise SimCallerError(f"webhook {url} returned {resp.status_code}: {resp.text[:200]}")
    try:
        return tm.parse_twiml_stream(resp.text)
    except tm.MessageError as exc:
        raise SimCallerError(f"webhook {url} answered unusable TwiML: {exc}") from None


def _local_ws_url(stream_url: str, server_url: str) -> str:
    """Twilio needs wss://; when testing against a plain http:// server, connect with ws://."""
    parts = urlsplit(stream_url)
    if parts.scheme == "wss" and urlsplit(server_url).scheme == "http":
        return urlunsplit(parts._replace(scheme="ws"))
    return stream_url
