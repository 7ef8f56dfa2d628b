"""G.711 μ-law tables against a scalar CCITT reference, and the soxr resampling helpers."""

from __future__ import annotations

import numpy as np
import pytest

from voice_agent.telephony.codec import (
    StreamResampler,
    resample,
    ulaw_decode,
    ulaw_encode,
)


def _ref_encode(sample: int) -> int:
    """Sun's g711.c linear2ulaw, written out as plainly as possible."""
    seg_end = (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)
    val = sample >> 2
    if val < 0:
        val, mask = -val, 0x7F
    else:
        mask = 0xFF
    val = min(val, 8159) + 0x21
    seg = next((i for i, end in enumerate(seg_end) if val <= end), 8)
    if seg >= 8:
        return 0x7F ^ mask
    return ((seg << 4) | ((val >> (seg + 1)) & 0x0F)) ^ mask


def _ref_decode(byte: int) -> int:
    u = ~byte & 0xFF
    t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    return 0x84 - t if u & 0x80 else t - 0x84


def test_encoder_is_bit_exact_over_all_int16() -> None:
    samples = np.arange(-32768, 32768, dtype=np.int16)
    got = np.frombuffer(ulaw_encode(samples), dtype=np.uint8)
    want = np.array([_ref_encode(int(s)) for s in samples], dtype=np.uint8)
    mismatches = np.flatnonzero(got != want)
    assert mismatches.size == 0, f"first mismatch at sample {samples[mismatches[0]]}"


def test_decoder_matches_standard_table() -> None:
    got = ulaw_decode(bytes(range(256)))
    assert got.dtype == np.int16
    assert got.tolist() == [_ref_decode(b) for b in range(256)]


@pytest.mark.parametrize(
    ("sample", "byte"),
    [(0, 0xFF), (-1, 0x7E), (32767, 0x80), (-32768, 0x00), (1, 0xFF), (4, 0xFE), (-4, 0x7E)],
)
def test_known_encodings(sample: int, byte: int) -> None:
    assert ulaw_encode(np.array([sample], dtype=np.int16)) == bytes([byte])


def test_known_decodings() -> None:
    assert ulaw_decode(bytes([0xFF, 0x7F, 0x80, 0x00])).tolist() == [0, 0, 32124, -32124]


def test_round_trip_is_stable_and_close() -> None:
    # decode(encode(decode(b))) == decode(b): every code word is a fixed point
    codes = bytes(range(256))
    decoded = ulaw_decode(codes)
    assert np.array_equal(ulaw_decode(ulaw_encode(decoded)), decoded)
    # quantisation error of a signal stays within the segment step (~3 % of the magnitude)
    t = np.arange(8000) / 8000
    pcm = (12000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    back = ulaw_decode(ulaw_encode(pcm)).astype(np.int32)
    err = np.abs(back - pcm.astype(np.int32))
    assert np.all(err <= np.maximum(np.abs(pcm.astype(np.int32)) // 16, 8))
    snr = 10 * np.log10(np.sum(pcm.astype(float) ** 2) / np.sum(err.astype(float) ** 2))
    assert snr > 35


def test_encode_accepts_non_contiguous_and_other_int_dtypes() -> None:
    pcm = np.array([0, 100, -100, 5000], dtype=np.int32)
    assert ulaw_encode(pcm) == ulaw_encode(pcm.astype(np.int16))
    strided = np.arange(-1000, 1000, dtype=np.int16)[::2]
    assert len(ulaw_encode(strided)) == 1000


def _tone(rate: int, seconds: float, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (10000 * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def _dominant_hz(pcm: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(float)))
    return float(np.argmax(spectrum) * rate / len(pcm))


def test_resample_whole_signal() -> None:
    out = resample(_tone(22050, 1.0), 22050, 8000)
    assert out.dtype == np.int16
    assert abs(len(out) - 8000) <= 1
    assert abs(_dominant_hz(out, 8000) - 440) < 2
    same = resample(_tone(8000, 0.1), 8000, 8000)
    assert np.array_equal(same, _tone(8000, 0.1))
    assert resample(np.zeros(0, dtype=np.int16), 16000, 8000).size == 0


def test_stream_resampler_matches_length_and_frequency() -> None:
    src = _tone(8000, 1.0)
    rs = StreamResampler(8000, 16000)
    chunks = [rs.process(src[i : i + 160]) for i in range(0, len(src), 160)]
    chunks.append(rs.process(np.zeros(0, dtype=np.int16), last=True))
    out = np.concatenate(chunks)
    assert out.dtype == np.int16
    assert abs(len(out) - 16000) <= 2
    assert abs(_dominant_hz(out, 16000) - 440) < 2
