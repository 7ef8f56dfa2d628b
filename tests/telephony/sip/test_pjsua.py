"""The SIP server against PJSIP's own user agent (pjsua2-python, in its own process): a second
independent peer. It offers telephone-event as payload type 120, plays a WAV, records what it
hears and presses keys."""

from __future__ import annotations

import asyncio
import json
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from tests.telephony.sip.app import sip_test_app, tone

pjsua2 = pytest.importorskip("pjsua2", reason="pjsua2-python not installed (the dev extra)")
PEER = Path(__file__).parent / "pjsua_peer.py"


def dominant_hz(pcm: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64) * np.hanning(len(pcm))))
    return float(np.fft.rfftfreq(len(pcm), 1 / rate)[int(np.argmax(spectrum))])


async def test_pjsua_call_with_audio_both_ways_and_keys(tmp_path: Path) -> None:
    play, record = tmp_path / "play.wav", tmp_path / "heard.wav"
    with wave.open(str(play), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(tone(3.0, hz=700).tobytes())
    async with sip_test_app(greeting=tone(2.0, hz=440)) as app:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(PEER), f"sip:+15550001111@127.0.0.1:{app.port}", str(play),
            str(record), "--seconds", "5", "--keys", "42",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await asyncio.wait_for(proc.communicate(), 30)
        await asyncio.sleep(0.5)
    lines = out.decode(errors="replace").strip().splitlines()
    state = json.loads(lines[-1])
    assert proc.returncode == 0 and state["confirmed"], lines[-20:]
    [call] = app.calls
    assert call.media is not None and call.media.offer.dtmf_payload_type == 120
    assert call.keys == ["4", "2"]
    caller = np.frombuffer(bytes(call.audio), dtype=np.int16)
    loud = caller[np.abs(caller) > 1000]
    assert len(loud) > 8000  # over a second of the caller's tone reached the agent
    assert abs(dominant_hz(caller, 8000) - 700) < 20
    with wave.open(str(record)) as w:
        heard = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
        rate = w.getframerate()
    assert len(heard) > rate and abs(dominant_hz(heard, rate) - 440) < 20  # our greeting
    assert call.ended_by == "caller"
