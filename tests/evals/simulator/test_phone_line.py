"""The harder simulated telephone line: band, noise at a given SNR, lost packets."""

from __future__ import annotations

import numpy as np
import pytest

from evals.simulator.phone_line import NOMINAL_SPEECH_RMS, PhoneLine, parse_line
from voice_agent.telephony.codec import SAMPLE_RATE


def _tone(hz: float, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(SAMPLE_RATE * seconds)) / SAMPLE_RATE
    return (np.sin(2 * np.pi * hz * t) * 8000).astype(np.int16)


def test_specs_parse_and_name_themselves() -> None:
    assert parse_line("clean") == PhoneLine()
    line = parse_line("band+snr10+loss2")
    assert line == PhoneLine(band=True, snr_db=10, loss=0.02) and line.name == "band+snr10+loss2"
    with pytest.raises(ValueError):
        parse_line("reverb")
    with pytest.raises(ValueError):
        parse_line("loss100")


def test_band_limit_removes_what_a_phone_does_not_carry() -> None:
    line = PhoneLine(band=True)
    assert np.abs(line.apply(_tone(150))).max() < 200  # below 300 Hz: gone
    assert np.abs(line.apply(_tone(1000))).max() > 7000  # speech band: kept


def test_noise_is_added_at_the_asked_snr_and_replays_identically() -> None:
    clean = _tone(1000)
    noisy = PhoneLine(snr_db=10).apply(clean)
    noise = noisy.astype(np.float64) - clean
    snr = 10 * np.log10(np.mean(clean.astype(np.float64) ** 2) / np.mean(noise**2))
    assert 8.5 < snr < 11.5
    assert np.array_equal(noisy, PhoneLine(snr_db=10).apply(clean))


def test_lost_packets_are_silent_20ms_frames() -> None:
    out = PhoneLine(loss=0.2).apply(_tone(1000, seconds=4))
    frames = out.reshape(-1, SAMPLE_RATE // 50)
    silent = np.mean(np.all(frames == 0, axis=1))
    assert 0.1 < silent < 0.3


def test_idle_noise_continues_at_the_lines_snr_and_a_clean_line_has_none() -> None:
    noise = parse_line("band+snr10").idle_noise()
    assert noise is not None and parse_line("band").idle_noise() is None
    frames = [noise.next() for _ in range(100)]
    assert all(f.size == SAMPLE_RATE // 50 for f in frames)
    level = np.concatenate(frames).astype(np.float64).std()
    assert 0.7 < level / (NOMINAL_SPEECH_RMS / 10 ** (10 / 20)) < 1.3
    assert not np.array_equal(frames[0], frames[1])  # noise, not a repeated frame
