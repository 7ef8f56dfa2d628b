"""The agent's RTP stream as a caller receives it: one SSRC, sequence +1 and timestamp +160 per
packet, the marker on the first, paced at 20 ms (jitter and loss measured on loopback)."""

from __future__ import annotations

import asyncio

import numpy as np

from evals.simulator.sip_phone import SipTarget, dial_sip
from tests.telephony.sip.app import sip_test_app, tone
from voice_agent.telephony.sip.rtp import parse_dtmf


async def test_the_agent_stream_is_paced_and_numbered() -> None:
    async with sip_test_app(greeting=tone(2.0)) as app:
        client = await dial_sip(SipTarget("127.0.0.1", app.port), caller="+15551230001",
                                keep_packets=True)
        await client.start()
        assert await client.wait_agent_reply(since_s=0.0, silence_s=0.5, first_audio_timeout_s=5)
        await client.speak(tone(0.5, hz=300))
        await client.stop()
        await asyncio.sleep(0.2)
    assert client.packets
    packets = [p for _, p in client.packets]
    arrivals = np.array([t for t, _ in client.packets])
    assert len({p.ssrc for p in packets}) == 1
    seqs = np.array([p.sequence for p in packets])
    assert np.all(np.diff(seqs) % 65536 == 1)
    stamps = np.array([p.timestamp for p in packets], dtype=np.int64)
    assert np.all(np.diff(stamps) % 2**32 == 160)
    assert packets[0].marker and not any(p.marker for p in packets[1:])
    # The first packet goes out at the answer, before the pipeline starts; starting it holds
    # the event loop a moment (a second on a loaded CI box), after which the clock starts anew
    # (media.py: a stall over 1 s is not caught up in a burst). Pacing is what follows.
    first_gap_ms = (arrivals[1] - arrivals[0]) * 1000
    gaps = np.diff(arrivals[1:]) * 1000
    stats = client.rtp_stats
    print(f"agent RTP on loopback: first interval {first_gap_ms:.1f} ms, then "
          f"{len(packets)} packets, interval {gaps.mean():.2f} ms "
          f"(sd {gaps.std():.2f}, max {gaps.max():.1f}), RFC 3550 jitter {stats.jitter_ms:.2f} ms "
          f"(max {stats.max_jitter_ms:.2f}), lost {stats.lost}, late {stats.late}")
    assert 19.0 < gaps.mean() < 21.0  # paced: 50 packets a second, not a burst
    assert stats.lost == 0
    assert client.agent_audio_seconds >= 1.8  # the 2 s greeting was heard
    [call] = app.calls
    assert call.ended_by == "caller"


async def test_keys_the_agent_presses_go_out_as_rfc4733_events() -> None:
    async with sip_test_app(greeting=tone(0.2), dtmf="42") as app:
        client = await dial_sip(SipTarget("127.0.0.1", app.port), caller="+15551230001",
                                keep_packets=True)
        await client.start()
        await asyncio.sleep(1.2)
        await client.stop()
    assert client.packets
    events = [p for _, p in client.packets if p.payload_type == 101]
    assert len(events) == 22  # two keys, 8 packets + 3 end packets each
    first, second = events[0], events[11]
    assert first.marker and second.marker and first.timestamp != second.timestamp
    assert (parse_dtmf(first.payload)[0], parse_dtmf(second.payload)[0]) == (4, 2)
    assert len(app.calls) == 1
