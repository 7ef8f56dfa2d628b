"""Listening with context: the prompt helps the real whisper model and cannot invent words.

Uses the real whisper base model (loaded once for the module) on the simulated caller's voice
taken through 8 kHz μ-law, and on noise with no speech at all.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from connectors.schedule import load_business
from evals.simulator.caller_voice import CallerVoice
from voice_agent.config import DEFAULT_BUSINESSES_DIR, Settings
from voice_agent.dialog.listening import listening_prompt
from voice_agent.pipeline.whisper_model import (
    example_heard,
    load_whisper,
    prompt_echo,
    transcribe,
)
from voice_agent.runtime.model_files import assemble_whisper
from voice_agent.telephony.codec import SAMPLE_RATE, resample, ulaw_decode, ulaw_encode

SALON = load_business(DEFAULT_BUSINESSES_DIR / "demo-salon.yaml")


@pytest.fixture(scope="module")
def whisper():
    settings = Settings(_env_file=None)
    return load_whisper(assemble_whisper(settings.models_dir), device="cpu",
                        compute_type="int8", cpu_threads=settings.stt_cpu_threads)


def _phone(pcm8k: np.ndarray) -> bytes:
    return resample(ulaw_decode(ulaw_encode(pcm8k)), SAMPLE_RATE, 16_000).tobytes()


def test_the_prompt_names_the_business_vocabulary_and_the_question() -> None:
    prompt = listening_prompt(SALON, "time", "What time would suit you?").prompt
    for word in ("Haircut", "colour", "Blow-dry", "Maria", "Tom", "half past",
                 "What time would suit you?"):
        assert word in prompt
    assert "Yes, please" not in prompt  # only the expected kind of answer


def test_a_prompt_echo_is_recognised() -> None:
    prompt = listening_prompt(SALON, "date", "What day would you like?").prompt
    assert prompt_echo("Next Tuesday. Thursday the 3rd. Tomorrow morning.", prompt)
    assert not prompt_echo("Next Tuesday.", prompt)  # one short sentence: a real answer
    assert not prompt_echo("Could I come in on Friday instead?", prompt)


def test_noise_alone_is_not_heard_as_the_prompt(whisper) -> None:
    rng = np.random.default_rng(7)
    noise = (rng.standard_normal(SAMPLE_RATE * 2) * 600).astype(np.int16)
    prompt = listening_prompt(SALON, "time", "What time would suit you?").prompt
    text, stats = transcribe(whisper, _phone(noise), prompt=prompt)
    assert not prompt_echo(text, prompt), text
    assert "half past two" not in text.lower()
    assert stats["segments"] == 0 or stats.get("prompt_rejected") or len(text.split()) <= 3


@pytest.mark.slow
def test_speech_is_transcribed_with_the_prompt_kept(whisper) -> None:
    pcm = asyncio.run(CallerVoice().synthesize("I would like a haircut on Friday, please."))
    prompt = listening_prompt(SALON, "service", "How can I help you today?").prompt
    text, stats = transcribe(whisper, _phone(pcm), prompt=prompt)
    assert stats["prompted"] is True and "prompt_rejected" not in stats
    assert "friday" in text.lower()


def test_a_name_prompt_shows_example_names_that_are_never_taken_as_heard(whisper) -> None:
    listening = listening_prompt(SALON, "name", "Can I have your name for the booking, please?")
    assert all(name in listening.prompt for name in listening.examples)
    rng = np.random.default_rng(11)
    noise = (rng.standard_normal(SAMPLE_RATE * 2) * 900).astype(np.int16)
    text, _ = transcribe(whisper, _phone(noise), prompt=listening.prompt,
                         examples=listening.examples)
    assert not any(name.lower() in text.lower() for name in listening.examples), text


def test_an_example_name_heard_in_part_is_an_echo_of_the_prompt() -> None:
    examples = listening_prompt(SALON, "name", "Your name, please?").examples
    assert example_heard("Carmen O'Brien.", examples)  # the example's surname alone
    assert example_heard("It's Sarah Johnson", examples)
    assert not example_heard("Carmen Ortiz.", examples)
    assert not example_heard("Sam Brien", examples)  # no distinctive word of an example


def test_the_name_heard_goes_with_the_spelling_question_only_and_never_into_the_prompt(
) -> None:
    spelling = listening_prompt(SALON, "spell", "Could you spell it for me?", "Dana Smith")
    assert spelling.spelling_of == "Dana Smith" and "Dana" not in spelling.prompt
    assert listening_prompt(SALON, "name", "Your name?", "Dana Smith").spelling_of is None
    assert listening_prompt(SALON, "spell", "Could you spell it for me?").spelling_of is None
