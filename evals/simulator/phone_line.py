"""A worse telephone line than a clean μ-law codec: band-limiting, line noise, lost packets.

Real calls reach the agent through a handset microphone, a narrow-band codec, a noisy room and
a network that drops packets. ``PhoneLine`` applies the same to the simulated caller's 8 kHz
audio before it is μ-law encoded:

- ``band``: the classic telephone pass band, 300-3400 Hz (an FFT brick-wall filter; G.711
  itself passes up to 4 kHz, handsets and carriers narrow it);
- ``snr_db``: pink-ish line noise (white noise through a one-pole low-pass, like road or room
  rumble more than hiss) added at that signal-to-noise ratio, measured over the speech;
- ``loss``: the probability that a 20 ms packet is lost; a lost packet becomes silence, as a
  jitter buffer without concealment plays it.

A noisy line is noisy between the caller's sentences too (``LineNoise``: the phone sends it
instead of digital silence). Digital silence between utterances is not what a phone line
carries, and it is not neutral: after it, Silero VAD scored short answers lower than after
line noise (two audio-eval calls at band+snr15: 6 of 25 answers missed after digital
silence, 2 with the noise kept on).

Every effect is seeded from the text's audio, so a script replays identically.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from voice_agent.telephony.codec import SAMPLE_RATE, Int16Array

__all__ = ["LineNoise", "PhoneLine", "parse_line"]

_PACKET = SAMPLE_RATE // 50  # 20 ms, one Twilio media message
# The speech level a line's idle noise is set against (RMS of int16 speech; the caller voices'
# utterances measure about 2,000-4,500 over their speech).
NOMINAL_SPEECH_RMS = 3000.0
_IDLE_LOOP_S = 20  # the idle noise is this long a loop


@dataclass(frozen=True)
class PhoneLine:
    band: bool = False
    snr_db: float | None = None
    loss: float = 0.0

    @property
    def name(self) -> str:
        if not (self.band or self.snr_db is not None or self.loss):
            return "clean"
        parts = ["band"] if self.band else []
        if self.snr_db is not None:
            parts.append(f"snr{self.snr_db:g}")
        if self.loss:
            parts.append(f"loss{self.loss * 100:g}")
        return "+".join(parts)

    def apply(self, pcm: Int16Array) -> Int16Array:
        if self.name == "clean" or pcm.size == 0:
            return pcm
        seed = int.from_bytes(hashlib.sha256(pcm.tobytes()).digest()[:8], "little")
        rng = np.random.default_rng(seed)
        x = pcm.astype(np.float64)
        if self.band:
            x = _band_limit(x)
        if self.snr_db is not None:
            x = x + _noise(rng, x, self.snr_db)
        if self.loss:
            packets = np.arange(0, x.size, _PACKET)
            for start in packets[rng.random(packets.size) < self.loss]:
                x[start:start + _PACKET] = 0.0
        return np.clip(np.round(x), -32768, 32767).astype(np.int16)

    def idle_noise(self) -> LineNoise | None:
        """What the line carries while the caller says nothing (None: digital silence)."""
        return None if self.snr_db is None else LineNoise(self.snr_db)


class LineNoise:
    """The line's noise while the caller is silent, 20 ms at a time: the same coloured noise
    as ``PhoneLine.apply`` adds to speech, at ``snr_db`` below ``NOMINAL_SPEECH_RMS``."""

    def __init__(self, snr_db: float, *, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        n = SAMPLE_RATE * _IDLE_LOOP_S
        base = np.full(n, NOMINAL_SPEECH_RMS)
        noise = _noise(rng, base, snr_db)
        self._loop = np.clip(np.round(noise), -32768, 32767).astype(np.int16)
        self._pos = 0

    def next(self, n: int = _PACKET) -> Int16Array:
        idx = (self._pos + np.arange(n)) % self._loop.size
        self._pos = (self._pos + n) % self._loop.size
        return self._loop[idx]


def _band_limit(x: np.ndarray, low: float = 300.0, high: float = 3400.0) -> np.ndarray:
    spectrum = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(x.size, 1.0 / SAMPLE_RATE)
    spectrum[(freqs < low) | (freqs > high)] = 0.0
    return np.fft.irfft(spectrum, n=x.size)


def _noise(rng: np.random.Generator, x: np.ndarray, snr_db: float) -> np.ndarray:
    white = rng.standard_normal(x.size)
    coloured = np.empty_like(white)
    acc = 0.0
    for i, w in enumerate(white):  # one-pole low-pass: more rumble than hiss
        acc = 0.9 * acc + w
        coloured[i] = acc
    speech = x[np.abs(x) > 0.02 * (np.abs(x).max() or 1.0)]
    signal_power = float(np.mean(speech**2)) if speech.size else 0.0
    noise_power = float(np.mean(coloured**2)) or 1.0
    return coloured * np.sqrt(signal_power / (10 ** (snr_db / 10)) / noise_power)


def parse_line(spec: str) -> PhoneLine:
    """``clean``, or ``+``-joined parts: ``band``, ``snrN`` (dB), ``lossN`` (per cent), e.g.
    ``band+snr10+loss2``."""
    if spec == "clean":
        return PhoneLine()
    band, snr, loss = False, None, 0.0
    for part in spec.split("+"):
        if part == "band":
            band = True
        elif part.startswith("snr"):
            snr = float(part[3:])
        elif part.startswith("loss"):
            loss = float(part[4:]) / 100
        else:
            raise ValueError(f"unknown phone line part {part!r} (band, snrN, lossN)")
    if not 0.0 <= loss < 1.0:
        raise ValueError(f"packet loss must be below 100 %, got {loss * 100:g} %")
    return PhoneLine(band=band, snr_db=snr, loss=loss)
