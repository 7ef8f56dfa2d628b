"""G.711 μ-law and resampling helpers: pure functions, no sockets.

The μ-law tables are bit-exact with the CCITT reference algorithm (Sun's ``g711.c``, which
``audioop`` also used): the encoder shifts the 16-bit sample right by two, clips the magnitude at
8159, adds the bias 0x21 and finds the segment; the decoder is the standard 256-entry table.
``audioop`` is gone in Python 3.13, hence these numpy lookup tables.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import soxr

__all__ = [
    "FRAME_BYTES",
    "SAMPLE_RATE",
    "ULAW_SILENCE",
    "Int16Array",
    "StreamResampler",
    "alaw_decode",
    "alaw_encode",
    "resample",
    "ulaw_decode",
    "ulaw_encode",
]

SAMPLE_RATE = 8000
"""Telephony sample rate (Hz)."""
FRAME_BYTES = 160
"""One 20 ms frame of 8 kHz μ-law."""
ULAW_SILENCE = 0xFF
"""The μ-law byte for digital silence (encodes 0)."""

Int16Array = npt.NDArray[np.int16]

_CLIP = 8159
_BIAS = 0x21
_SEG_END = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)


def _build_encode_table() -> npt.NDArray[np.uint8]:
    """μ-law byte for every int16 value, indexed by the value's uint16 bit pattern."""
    pcm = np.arange(65536, dtype=np.uint16).view(np.int16).astype(np.int32)
    val = pcm >> 2
    negative = val < 0
    mask = np.where(negative, 0x7F, 0xFF)
    mag = np.minimum(np.where(negative, -val, val), _CLIP) + _BIAS
    seg = np.searchsorted(_SEG_END, mag, side="left")  # first segment whose end >= mag
    uval = np.where(seg >= 8, 0x7F, (seg << 4) | ((mag >> (seg + 1)) & 0x0F))
    return (uval ^ mask).astype(np.uint8)


def _build_decode_table() -> Int16Array:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, 0x84 - t, t - 0x84).astype(np.int16)


_ENCODE = _build_encode_table()
_DECODE = _build_decode_table()
_ALAW_SEG_END = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], dtype=np.int32)


def _build_alaw_encode_table() -> npt.NDArray[np.uint8]:
    """G.711 A-law (Sun's ``g711.c`` ``linear2alaw``) for every int16 value."""
    pcm = np.arange(65536, dtype=np.uint16).view(np.int16).astype(np.int32) >> 3
    negative = pcm < 0
    mask = np.where(negative, 0x55, 0xD5)
    mag = np.where(negative, -pcm - 1, pcm)
    seg = np.searchsorted(_ALAW_SEG_END, mag, side="left")
    shift = np.where(seg < 2, 1, seg)
    aval = (seg << 4) | ((mag >> shift) & 0x0F)
    aval = np.where(seg >= 8, 0x7F, aval)
    return (aval ^ mask).astype(np.uint8)


def _build_alaw_decode_table() -> Int16Array:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    t = np.where(seg == 0, t + 8, t + 0x108)
    t = np.where(seg > 1, t << np.maximum(seg - 1, 0), t)
    return np.where(a & 0x80, t, -t).astype(np.int16)


_ALAW_ENCODE = _build_alaw_encode_table()
_ALAW_DECODE = _build_alaw_decode_table()


def ulaw_encode(pcm: Int16Array) -> bytes:
    """Encode int16 PCM samples to μ-law bytes (one byte per sample)."""
    samples = np.ascontiguousarray(pcm, dtype=np.int16)
    return _ENCODE[samples.view(np.uint16)].tobytes()


def ulaw_decode(data: bytes) -> Int16Array:
    """Decode μ-law bytes to int16 PCM samples."""
    return _DECODE[np.frombuffer(data, dtype=np.uint8)]


def alaw_encode(pcm: Int16Array) -> bytes:
    """Encode int16 PCM samples to G.711 A-law bytes."""
    samples = np.ascontiguousarray(pcm, dtype=np.int16)
    return _ALAW_ENCODE[samples.view(np.uint16)].tobytes()


def alaw_decode(data: bytes) -> Int16Array:
    """Decode G.711 A-law bytes to int16 PCM samples."""
    return _ALAW_DECODE[np.frombuffer(data, dtype=np.uint8)]


def resample(pcm: Int16Array, src_rate: int, dst_rate: int) -> Int16Array:
    """Resample a whole mono int16 signal (soxr, high quality)."""
    samples = np.ascontiguousarray(pcm, dtype=np.int16)
    if src_rate == dst_rate or samples.size == 0:
        return samples.copy()
    return soxr.resample(samples, src_rate, dst_rate).astype(np.int16, copy=False)


class StreamResampler:
    """Streaming mono int16 resampler around ``soxr.ResampleStream``.

    Feed chunks with :meth:`process`; pass ``last=True`` with the final chunk (it may be empty)
    to flush the filter's delay line.
    """

    def __init__(self, src_rate: int, dst_rate: int) -> None:
        self.src_rate = src_rate
        self.dst_rate = dst_rate
        self._stream = soxr.ResampleStream(src_rate, dst_rate, 1, dtype="int16")

    def process(self, pcm: Int16Array, *, last: bool = False) -> Int16Array:
        samples = np.ascontiguousarray(pcm, dtype=np.int16)
        out = self._stream.resample_chunk(samples, last=last)
        return np.asarray(out, dtype=np.int16)

    def reset(self) -> None:
        self._stream.clear()
