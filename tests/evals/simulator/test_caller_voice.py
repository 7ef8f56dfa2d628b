"""espeak-ng caller voice: 8 kHz int16, trimmed, cached; a clear error when it is missing."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from evals.simulator.caller_voice import CallerVoice, CallerVoiceError

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng missing")


@needs_espeak
async def test_synthesize_8khz_speech() -> None:
    voice = CallerVoice()
    pcm = await voice.synthesize("Hi, I'd like to book a haircut.")
    assert pcm.dtype == np.int16
    assert 1.0 < len(pcm) / 8000 < 4.0
    assert np.abs(pcm).max() > 5000
    # trimmed: speech reaches the first and last 30 ms
    assert np.abs(pcm[:240]).max() > 64
    assert np.abs(pcm[-240:]).max() > 64


@needs_espeak
async def test_cache_returns_copies() -> None:
    voice = CallerVoice()
    first = await voice.synthesize("Yes please.")
    first[:] = 0
    second = await voice.synthesize("Yes please.")
    assert np.abs(second).max() > 0
    assert len(voice._cache) == 1


@needs_espeak
async def test_text_that_looks_like_an_option() -> None:
    pcm = await CallerVoice().synthesize("-v nonsense")
    assert len(pcm) > 800


async def test_missing_espeak_says_how_to_install() -> None:
    voice = CallerVoice(executable="espeak-ng-does-not-exist")
    with pytest.raises(CallerVoiceError, match=r"apt-get install espeak-ng"):
        await voice.synthesize("hello")
