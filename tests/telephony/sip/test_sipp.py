"""The SIP server against SIPp 3.6 (Debian sip-tester), a real and independent SIP peer."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from tests.telephony.sip.app import sip_test_app, tone
from tests.telephony.sip.pcap import write_rtp_pcap
from tests.telephony.sip.sipp import needs_sipp, run_sipp, scenario_from
from voice_agent.telephony.codec import FRAME_BYTES, resample, ulaw_decode, ulaw_encode

pytestmark = needs_sipp


def speech_ulaw(tmp: Path, text: str) -> bytes:
    """Synthetic speech (espeak-ng), 8 kHz μ-law, whole 20 ms frames."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        pytest.skip("espeak-ng not installed (scripts/setup.sh installs it)")
    wav = tmp / "speech.wav"
    subprocess.run([espeak, "-w", str(wav), text], check=True, capture_output=True)
    with wave.open(str(wav)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
        rate = w.getframerate()
    ulaw = ulaw_encode(resample(pcm, rate, 8000))
    return ulaw[: len(ulaw) // FRAME_BYTES * FRAME_BYTES]


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def frames_with_sound(pcm: np.ndarray) -> list[bytes]:
    """The 20 ms frames that are not digital silence, in order."""
    frames = pcm[: len(pcm) // FRAME_BYTES * FRAME_BYTES].reshape(-1, FRAME_BYTES)
    return [f.tobytes() for f in frames if np.any(f)]


async def test_uac_speech_and_rfc4733_keys_arrive_intact(tmp_path: Path) -> None:
    ulaw = speech_ulaw(tmp_path, "I would like to book a haircut on Tuesday afternoon.")
    pcap = tmp_path / "speech_dtmf.pcap"
    packets = write_rtp_pcap(pcap, ulaw, digits="15#")
    seconds = packets * 0.02
    scenario = scenario_from("uac_pcmu_dtmf.xml", tmp_path, pcap=pcap,
                             pause_ms=int(seconds * 1000) + 800)
    async with sip_test_app() as app:
        run = await run_sipp(app.port, tmp_path, "-m", "1", scenario=scenario)
        await asyncio.sleep(0.3)
    print(run.summary())
    assert run.count("SuccessfulCall") == 1 and run.count("FailedCall") == 0, run.errors
    [call] = app.calls
    assert call.keys == ["1", "5", "#"]  # each key once, though each came in 11 packets
    # Every speech frame arrives bit-exact and in order; the jitter buffer may have played
    # silence between them where SIPp's replay ran late on a loaded CPU (an underrun).
    received = np.frombuffer(bytes(call.audio), dtype=np.int16)
    assert frames_with_sound(received) == frames_with_sound(ulaw_decode(ulaw))
    assert call.ended_by == "caller" and call.leg.caller == "+15551230001"
    assert call.leg.business.name == "demo-salon" and call.leg.provider == "sip"
    stats = call.media.jitter.stats if call.media else None
    assert stats is not None and stats.lost == 0 and stats.late == 0
    print(f"RTP from SIPp on loopback: {stats.received} packets, jitter {stats.jitter_ms:.2f} ms "
          f"(max {stats.max_jitter_ms:.2f}), lost {stats.lost}, late {stats.late}")
    assert app.server.active == 0 and app.server.open_media == 0


async def test_the_agent_hangs_up_with_a_bye(tmp_path: Path) -> None:
    scenario = scenario_from("uac_agent_hangs_up.xml", tmp_path)
    async with sip_test_app(hang_up=True) as app:
        run = await run_sipp(app.port, tmp_path, "-m", "1", scenario=scenario, timeout_s=30)
        await asyncio.sleep(0.3)
        assert not app.server.uas.calls if app.server.uas else True
    print(run.summary())
    assert run.count("SuccessfulCall") == 1, run.errors
    [call] = app.calls
    assert call.ended_by == "agent" and call.greeting_sent
    assert call.media is not None and call.media.offer.codec == "PCMA"
    assert call.media.frames_sent_audio >= 45  # the 1 s greeting went out (50 frames)


async def test_cancel_before_the_answer(tmp_path: Path) -> None:
    scenario = scenario_from("uac_cancel.xml", tmp_path)
    async with sip_test_app(answer_delay_s=1.5) as app:
        run = await run_sipp(app.port, tmp_path, "-m", "1", scenario=scenario, timeout_s=30)
        await asyncio.sleep(1.8)  # past the ringing: nothing must be answered
        uas = app.server.uas
        assert uas is not None and not uas.calls
    print(run.summary())
    assert run.count("SuccessfulCall") == 1, run.errors
    assert app.calls == [] and app.server.open_media == 0


async def test_tcp(tmp_path: Path) -> None:
    async with sip_test_app() as app:
        run = await run_sipp(app.port, tmp_path, "-m", "3", "-r", "3", "-t", "t1", "-d", "500",
                             builtin="uac", timeout_s=30)
        await asyncio.sleep(0.3)
    print(run.summary())
    assert run.count("SuccessfulCall") == 3 and run.count("Retransmissions") == 0, run.errors
    assert len(app.calls) == 3


@pytest.mark.slow
async def test_load_with_20_percent_loss_every_call_completes_nothing_leaks(
        tmp_path: Path) -> None:
    async with sip_test_app() as app:
        warm = await run_sipp(app.port, tmp_path, "-m", "1", builtin="uac", timeout_s=30)
        assert warm.count("SuccessfulCall") == 1  # first use: imports, pools, the pipeline
        await asyncio.sleep(0.5)
        tasks_before, fds_before = len(asyncio.all_tasks()), open_fds()
        run = await run_sipp(app.port, tmp_path, "-m", "30", "-r", "10", "-lost", "20",
                             "-d", "1000", builtin="uac", timeout_s=90)
        server = app.server
        assert server.uas is not None
        for _ in range(100):  # a pipeline cancelled on a loaded CPU takes a moment to stop
            if server.active == len(server.uas.calls) == sum(
                    c.state == "answered" for c in server.uas.calls.values()):
                break
            await asyncio.sleep(0.1)
        # SIPp's -lost also drops what it sends: a call whose every ACK and BYE it dropped
        # is still having its 200 resent here (until 64·T1, then our BYE); nothing else stays.
        waiting = [c.state for c in server.uas.calls.values()]
        warm_id = server.finished[0].call_id
        finished = [f for f in server.finished if f.call_id != warm_id]
        await server.stop()  # ends what is still waiting (our BYE); then nothing may remain
        await asyncio.sleep(0.2)
        tasks_after, fds_after = len(asyncio.all_tasks()), open_fds()
    print(run.summary())
    print(f"after SIPp: {len(waiting)} call(s) still waiting for an ACK SIPp dropped; "
          f"open file descriptors {fds_before} before, {fds_after} after; "
          f"asyncio tasks {tasks_before} before, {tasks_after} after")
    assert run.count("SuccessfulCall") == 30 and run.count("FailedCall") == 0, run.errors
    assert all(state == "answered" for state in waiting), waiting
    assert len(finished) + len(waiting) == 30
    # The app ran a pipeline for exactly the calls the server says it ran, each after the
    # caller's ACK (a BYE that overtook every ACK SIPp dropped ends the call first).
    ran = {record.leg.provider_call_id for record in app.calls} - {warm_id[:64]}
    assert ran == {f.call_id[:64] for f in finished if f.ran}
    assert all(f.confirmed for f in finished if f.ran)
    assert len(ran) >= 20  # 20 % loss of each message leaves most ACKs through
    assert fds_after <= fds_before  # every call's RTP socket closed (listeners too, now)
    assert tasks_after <= tasks_before  # no call task, RTP clock or timer left behind


async def test_hold_resume_and_a_blind_transfer_with_refer(tmp_path: Path) -> None:
    scenario = scenario_from("uac_hold_transfer.xml", tmp_path)
    async with sip_test_app(greeting=tone(3.0), hang_up=True, transfer=True,
                            transfer_uri="sip:+15559990000@127.0.0.1") as app:
        run = await run_sipp(app.port, tmp_path, "-m", "1", scenario=scenario, timeout_s=30)
        await asyncio.sleep(0.3)
    print(run.summary())
    assert run.count("SuccessfulCall") == 1, run.errors + run.output
    [call] = app.calls
    assert call.media is not None and not call.media.offer.on_hold  # held, then resumed
    assert app.server.finished[-1].end_reason == "transferred"


async def test_a_call_longer_than_the_limit_is_ended_with_a_bye(tmp_path: Path) -> None:
    scenario = scenario_from("uac_agent_hangs_up.xml", tmp_path)
    async with sip_test_app(max_call_s=1.5) as app:
        run = await run_sipp(app.port, tmp_path, "-m", "1", scenario=scenario, timeout_s=30)
        await asyncio.sleep(0.3)
    assert run.count("SuccessfulCall") == 1, run.errors
    assert app.server.open_media == 0 and app.server.active == 0
