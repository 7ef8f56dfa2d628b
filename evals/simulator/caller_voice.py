"""The simulated caller's voice, deliberately different from the agent's.

Two voices, both run as child processes (no shell; Piper is GPL and stays in its own process):

- ``CallerVoice`` (espeak-ng ``en-us+m3``): always available, but flat formant speech that
  whisper base mis-hears often on 8 kHz μ-law;
- ``PiperCallerVoice``: the Piper voice pitch-shifted down and slowed by resampling, so it
  is clearly not the agent, and real enough for STT to be measured meaningfully.

Both trim digital silence at both ends (keeping 20 ms) so that the end of the audio is the end
of speech, resample to 8 kHz int16 with soxr, and cache results per text in memory.
"""

from __future__ import annotations

import asyncio
import io
import shutil
import wave
from pathlib import Path

import numpy as np

from voice_agent.telephony.codec import SAMPLE_RATE, Int16Array, resample

__all__ = [
    "VOICES", "CallerVoice", "CallerVoiceError", "PiperCallerVoice", "make_caller_voice",
    "synthesize",
]

_INSTALL_HINT = "install espeak-ng (apt-get install espeak-ng)"
_SILENCE_LEVEL = 64  # |sample| below this counts as silence when trimming


class CallerVoiceError(RuntimeError):
    """espeak-ng is missing or failed."""


class CallerVoice:
    """espeak-ng synthesis to 8 kHz int16 PCM, cached per text."""

    def __init__(
        self,
        *,
        voice: str = "en-us+m3",
        words_per_minute: int = 160,
        executable: str = "espeak-ng",
        timeout_s: float = 30.0,
    ) -> None:
        self.voice = voice
        self.words_per_minute = words_per_minute
        self.executable = executable
        self.timeout_s = timeout_s
        self._cache: dict[str, Int16Array] = {}

    async def synthesize(self, text: str) -> Int16Array:
        """8 kHz mono int16 samples of ``text`` spoken (a copy; safe to modify)."""
        cached = self._cache.get(text)
        if cached is None:
            cached = await self._run(text)
            self._cache[text] = cached
        return cached.copy()

    async def _run(self, text: str) -> Int16Array:
        exe = shutil.which(self.executable)
        if exe is None:
            raise CallerVoiceError(f"{self.executable} not found: {_INSTALL_HINT}")
        args = [exe, "-v", self.voice, "-s", str(self.words_per_minute), "--stdout", "--", text]
        try:
            proc = await asyncio.create_subprocess_exec(
                *args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise CallerVoiceError(f"cannot run {exe}: {exc}; {_INSTALL_HINT}") from None
        try:
            out, err = await asyncio.wait_for(proc.communicate(), self.timeout_s)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise CallerVoiceError(f"espeak-ng took longer than {self.timeout_s} s") from None
        if proc.returncode != 0:
            detail = err.decode(errors="replace").strip()
            raise CallerVoiceError(f"espeak-ng failed ({proc.returncode}): {detail}")
        pcm, rate = _parse_wav(out)
        return resample(_trim_silence(pcm, rate), rate, SAMPLE_RATE)


def _parse_wav(data: bytes) -> tuple[Int16Array, int]:
    """Mono int16 samples and rate of espeak-ng's WAV (its header sizes are placeholders)."""
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            if wav.getsampwidth() != 2:
                raise CallerVoiceError(f"espeak-ng WAV has {8 * wav.getsampwidth()}-bit samples")
            channels, rate = wav.getnchannels(), wav.getframerate()
            frames = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise CallerVoiceError(f"espeak-ng produced no readable WAV: {exc}") from None
    usable = len(frames) - len(frames) % (2 * channels)
    pcm = np.frombuffer(frames[:usable], dtype="<i2").astype(np.int16)
    if channels > 1:
        pcm = pcm.reshape(-1, channels)[:, 0].copy()
    return pcm, rate


def _trim_silence(pcm: Int16Array, rate: int) -> Int16Array:
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) >= _SILENCE_LEVEL)
    if loud.size == 0:
        return pcm
    pad = rate // 50
    return pcm[max(0, loud[0] - pad) : loud[-1] + 1 + pad]


class PiperCallerVoice(CallerVoice):
    """Piper (``python -m piper``) pitch-shifted by ``pitch`` (0.86 = lower and slower)."""

    def __init__(self, *, model: str, pitch: float = 0.86, timeout_s: float = 60.0) -> None:
        super().__init__(timeout_s=timeout_s)
        self.model = model
        self.pitch = pitch

    async def _run(self, text: str) -> Int16Array:
        import json
        import sys

        config = await asyncio.to_thread(Path(self.model + ".json").read_text)
        rate = int(json.loads(config)["audio"]["sample_rate"])
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "piper", "-m", self.model, "--output-raw",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(text.encode()), self.timeout_s)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise CallerVoiceError(f"piper took longer than {self.timeout_s} s") from None
        if proc.returncode != 0:
            raise CallerVoiceError(f"piper failed ({proc.returncode}): {err.decode()[-300:]}")
        pcm = np.frombuffer(out[: len(out) // 2 * 2], dtype="<i2").astype(np.int16)
        # Playing rate*pitch samples per second lowers the pitch and slows the speech.
        return resample(_trim_silence(pcm, rate), int(rate * self.pitch), SAMPLE_RATE)


# The caller voices the audio evals use: clearly different speakers, all from packages.
VOICES: dict[str, str] = {
    "piper": "Piper en_US-joe, pitched down and slowed (x0.86): a deeper, slower man",
    "piper-high": "Piper en_US-joe, pitched up and sped up (x1.14): a higher, quicker voice",
    "espeak": "espeak-ng en-us+m3: formant synthesis, American man",
    "espeak-f": "espeak-ng en-gb+f3 at 150 wpm: formant synthesis, British woman",
}


def make_caller_voice(kind: str) -> CallerVoice:
    """One of ``VOICES``."""
    if kind == "espeak":
        return CallerVoice()
    if kind == "espeak-f":
        return CallerVoice(voice="en-gb+f3", words_per_minute=150)
    if kind in ("piper", "piper-high"):
        from voice_agent.runtime.model_files import piper_voice

        return PiperCallerVoice(model=str(piper_voice()[0]),
                                pitch=0.86 if kind == "piper" else 1.14)
    raise ValueError(f"unknown caller voice {kind!r} ({', '.join(VOICES)})")


_default_voice: CallerVoice | None = None


async def synthesize(text: str) -> Int16Array:
    """Synthesise with a shared default :class:`CallerVoice` (shared cache)."""
    global _default_voice
    if _default_voice is None:
        _default_voice = CallerVoice()
    return await _default_voice.synthesize(text)
