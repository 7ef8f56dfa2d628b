"""The sentences every call says are synthesised once (real Piper HTTP server) and replayed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from pipecat.frames.frames import TTSAudioRawFrame, TTSSpeakFrame
from pipecat.tests.utils import SleepFrame, run_test

from connectors.schedule import load_business
from voice_agent.config import DEFAULT_BUSINESSES_DIR, REPO_ROOT
from voice_agent.dialog.prompt import load_replies
from voice_agent.dialog.replies import fixed_sentences, lead_clause
from voice_agent.pipeline.phrase_cache import PhraseCache
from voice_agent.pipeline.tts import TimedPiperHttpTTSService
from voice_agent.pipeline.turn_clock import TurnClock
from voice_agent.runtime.model_files import piper_voice
from voice_agent.runtime.sidecars import Sidecar, free_port, piper_sidecar

DENTAL = load_business(DEFAULT_BUSINESSES_DIR / "demo-dental.yaml")
REPLIES = load_replies(REPO_ROOT / "prompts")


def test_fixed_sentences_are_the_ones_no_call_changes() -> None:
    fixed = fixed_sentences(REPLIES, DENTAL)
    assert "Can I have your name for the booking, please?" in fixed
    assert "Thank you for calling Riverside Dental." in fixed  # the business's own name
    assert not any("{" in s or "}" in s for s in fixed)
    # a sentence with a day, a time or a caller's name in it is never fixed
    assert not any(s.startswith("So that's") for s in fixed)


def test_the_cache_holds_only_fixed_sentences_within_its_bound() -> None:
    cache = PhraseCache({"One.", "Two.", "Three."}, max_bytes=250)
    cache.put("v", "Not fixed.", b"RIFF" + b"x" * 50)
    assert cache.get("v", "Not fixed.") is None
    for text in ("One.", "Two.", "Three."):
        cache.put("v", text, b"RIFF" + b"x" * 96)
    assert len(cache) == 2 and cache.size_bytes <= 250  # the least recently used went first
    assert cache.get("v", "One.") is None and cache.get("v", "Three.") is not None
    assert cache.get("other-voice", "Three.") is None


@pytest.fixture(scope="module")
async def piper() -> AsyncIterator[Sidecar]:
    sidecar = piper_sidecar(model=piper_voice()[0], port=free_port(), log_path=None)
    await sidecar.start()
    yield sidecar
    await sidecar.stop()


async def _speak(piper: Sidecar, session: aiohttp.ClientSession, cache: PhraseCache,
                 text: str) -> bytes:
    """The audio a fresh TTS service (sharing ``cache``) produces for ``text``."""
    tts = TimedPiperHttpTTSService(
        clock=TurnClock(vad_stop_secs=0.2), phrases=cache, aiohttp_session=session,
        base_url=f"{piper.base_url}/synthesize",
        settings=TimedPiperHttpTTSService.Settings(voice=piper_voice()[0].stem))
    down, _ = await run_test(tts, frames_to_send=[TTSSpeakFrame(text), SleepFrame(2.0)])
    return b"".join(f.audio for f in down if isinstance(f, TTSAudioRawFrame))


async def test_a_fixed_sentence_is_synthesised_once_and_replayed_identically(piper) -> None:
    text = "Can I have your name for the booking, please?"
    cache = PhraseCache({text})
    async with aiohttp.ClientSession() as session:
        first = await _speak(piper, session, cache, text)
        second = await _speak(piper, session, cache, text)
    assert len(first) > 16_000  # over half a second of 16 kHz speech
    assert second == first
    assert (cache.misses, cache.hits, len(cache)) == (1, 1, 1)


def test_a_sentences_short_opening_clause_is_fixed_on_its_own() -> None:
    fixed = fixed_sentences(REPLIES, DENTAL)
    assert {"I'm sorry,", "Just to check,", "Done,"} <= fixed
    assert lead_clause("I'm sorry, I don't have anything on Tuesday.") == [
        "I'm sorry,", "I don't have anything on Tuesday."]
    for whole in ("I have 3:30 PM or 4 PM.", "Thanks, Dana Smith.",
                  "So that's a haircut on Tuesday, December 1 at 3 PM."):
        assert lead_clause(whole) == [whole]


async def test_the_opening_clause_plays_from_the_cache_before_the_rest(piper) -> None:
    """One utterance, two syntheses: the cached clause's audio first, then the rest's."""
    lead, rest = "I'm sorry,", "there's nothing free on Tuesday."
    cache = PhraseCache({lead})
    async with aiohttp.ClientSession() as session:
        alone = await _speak(piper, session, cache, lead)
        whole = await _speak(piper, session, cache, f"{lead} {rest}")
    assert (cache.misses, cache.hits) == (1, 1)  # the clause was synthesised once
    assert whole.startswith(alone) and len(whole) > len(alone) + 16_000
