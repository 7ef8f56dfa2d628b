"""Calls over a SIP trunk into the real server (`voice-agent serve` with SIP on: whisper,
Silero, the llama.cpp and Piper sidecars), through the same pipeline as a Twilio call.

* baresip (Debian baresip-core), an independent SIP client, plays a WAV and records what it
  hears; the recording transcribes (whisper) to the agent's greeting.
* The demo call script books over SIP (our simulated caller's UAC: evals/simulator/sip_phone.py)
  with the turn rows and the booking checked as the Twilio end-to-end test checks them.
"""

from __future__ import annotations

import asyncio
import shutil
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from evals.phone_call import run_scripted_call, stage_split
from evals.simulator.sip_phone import SipTarget
from tests.e2e.conftest import (
    DEMO_SCRIPT,
    AgentServer,
    TwilioRestRecorder,
    assert_demo_call_stored,
    launch_agent_server,
)
from voice_agent.config import Settings
from voice_agent.pipeline.whisper_model import load_whisper, transcribe
from voice_agent.runtime.model_files import assemble_whisper
from voice_agent.runtime.sidecars import free_port
from voice_agent.store.db import make_engine
from voice_agent.telephony.codec import resample

pytestmark = pytest.mark.slow
GREETING = "Thank you for calling Bella Hair Studio. How can I help you today?"
CALLED = "+15550001111"


@pytest.fixture(scope="module")
def sip_agent(tmp_path_factory: pytest.TempPathFactory,
              twilio_rest: TwilioRestRecorder) -> Iterator[tuple[AgentServer, int]]:
    sip_port = free_port()
    rtp = free_port() // 2 * 2
    with launch_agent_server(
            tmp_path_factory.mktemp("sip-agent"), twilio_rest.url, sip_enabled="true",
            sip_port=str(sip_port), sip_rtp_port_min=str(34000), sip_rtp_port_max=str(34999),
            sip_numbers=f'{{"{CALLED}": "demo-salon"}}') as server:
        del rtp
        yield server, sip_port


def _words(text: str) -> list[str]:
    return "".join(c.lower() if c.isalnum() else " " for c in text).split()


def _baresip_config(root: Path, wav: Path) -> Path:
    cfg = root / "baresip"
    (cfg / "rec").mkdir(parents=True)
    cfg.joinpath("config").write_text("\n".join([
        "poll_method epoll", f"sip_listen 127.0.0.1:{free_port()}",
        "audio_player aubridge,nowhere", f"audio_source aufile,{wav}",
        "audio_alert aubridge,nowhere", "audio_srate 8000", "audio_channels 1",
        "rtp_ports 35000-35100", f"snd_path {cfg / 'rec'}",
        "module_path /usr/lib/baresip/modules", "module g711.so", "module aufile.so",
        "module aubridge.so", "module sndfile.so", "module_app account.so",
        "module_app menu.so", ""]))
    cfg.joinpath("accounts").write_text("<sip:+15551230009@127.0.0.1>;regint=0\n")
    cfg.joinpath("contacts").write_text("")
    return cfg


@pytest.mark.skipif(shutil.which("baresip") is None,
                    reason="baresip not installed (Debian baresip-core; scripts/setup.sh)")
async def test_baresip_hears_the_greeting(sip_agent: tuple[AgentServer, int],
                                          tmp_path: Path) -> None:
    server, sip_port = sip_agent
    wav = tmp_path / "caller.wav"  # 9 s of a quiet line: the caller listens
    rng = np.random.default_rng(1)
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes((rng.normal(0, 30, 8000 * 9)).astype(np.int16).tobytes())
    cfg = _baresip_config(tmp_path, wav)
    proc = await asyncio.create_subprocess_exec(
        "baresip", "-f", str(cfg), "-e", f"/dial sip:{CALLED}@127.0.0.1:{sip_port}", "-t", "14",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    log = out.decode(errors="replace")
    assert "Call established" in log, log[-2000:]
    [recording] = (cfg / "rec").glob("dump-*-dec.wav")
    with wave.open(str(recording)) as w:
        rate = w.getframerate()
        heard = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    settings = Settings(_env_file=None)
    model = load_whisper(assemble_whisper(settings.models_dir), device="cpu",
                         compute_type="int8", cpu_threads=2)
    text, _ = transcribe(model, resample(heard, rate, 16_000).tobytes())
    expected = _words(GREETING)
    got = set(_words(text))
    overlap = sum(w in got for w in expected) / len(expected)
    print(f"baresip heard: {text!r} ({overlap:.0%} of the greeting's words)")
    assert overlap >= 0.7, text
    # The server stored the call as a SIP call, ended when baresip hung up.
    from sqlmodel import Session, select

    from voice_agent.store.models import Call
    engine = make_engine(server.settings.db_url)
    try:
        deadline = time.monotonic() + 15
        while True:
            with Session(engine) as session:
                rows = session.exec(select(Call).where(Call.provider == "sip")).all()
            done = [r for r in rows if r.caller_phone == "+15551230009"
                    and r.status != "in_progress"]
            if done or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.3)
    finally:
        engine.dispose()
    assert done and done[0].status == "completed" and done[0].business == "demo-salon"


async def test_a_booking_call_over_sip(sip_agent: tuple[AgentServer, int],
                                       tmp_path: Path) -> None:
    server, sip_port = sip_agent
    engine = make_engine(server.settings.db_url)
    try:
        call = await run_scripted_call(
            script_path=DEMO_SCRIPT, server_url=server.url, settings=server.settings,
            engine=engine, recording=tmp_path / "caller.wav", console=Console(quiet=True),
            sip=SipTarget("127.0.0.1", sip_port, called=CALLED))
    finally:
        engine.dispose()
    row, turns = assert_demo_call_stored(server.settings.db_url, call)
    assert row.provider == "sip"
    server_side = [stage_split(t)[-1] for t in turns]
    caller_side = [t.latency_s for t in call.result.turns]
    print("SIP booking call, end of speech -> first agent audio per turn: server "
          + ", ".join(f"{v:.2f}" for v in server_side if v is not None) + " s; caller side "
          + ", ".join(f"{v:.2f}" for v in caller_side if v is not None) + " s")
    assert call.result.closed_by == "server"  # the agent said goodbye and sent BYE
