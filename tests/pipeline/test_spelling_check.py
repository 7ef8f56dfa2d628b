"""Reading a spelling's audio as the heard name's letters (forced decoding, real whisper)."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from tokenizers import Tokenizer

from evals.simulator.caller_voice import make_caller_voice
from voice_agent.config import DEFAULT_BUSINESSES_DIR, Settings
from voice_agent.dialog.listening import listening_prompt
from voice_agent.dialog.spelling import LetterScores, letters_fit
from voice_agent.pipeline.spelling_check import letter_logprobs, name_letters, spelling_tokens
from voice_agent.pipeline.stt import hear
from voice_agent.runtime.model_files import assemble_whisper
from voice_agent.telephony.codec import SAMPLE_RATE, resample, ulaw_decode, ulaw_encode

SPELL_QUESTION = "Thank you. So I get the name exactly right, could you spell it for me?"


@pytest.fixture(scope="module")
def model_dir():
    return assemble_whisper(Settings(_env_file=None).models_dir)


def test_a_spelling_is_tokenised_as_a_caller_says_it(model_dir) -> None:
    """Letters, commas, a "then" between words, a final period: the tokens whisper writes
    (this tokenizer would split " then" into two tokens it never emits)."""
    hf = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokens, positions = spelling_tokens(hf, "Zoë O'Neil-Smith")
    assert hf.decode(tokens) == " Z, O, E, then O, N, E, I, L, then S, M, I, T, H."
    assert [len(p) for p in positions] == [4, 6, 6]  # letters + the word's end
    assert hf.id_to_token(tokens[positions[0][-1]]) == "\u0120then"
    assert hf.id_to_token(tokens[positions[-1][-1]]) == "."
    assert name_letters("José Núñez") == ["JOSE", "NUNEZ"]
    assert spelling_tokens(hf, "...") == ([hf.token_to_id(".")], [])


@pytest.mark.slow
def test_the_audio_bears_out_the_name_spelled_and_not_a_rhyme_of_it(model_dir) -> None:
    from connectors.schedule import load_business
    from voice_agent.pipeline.whisper_model import load_whisper

    model = load_whisper(model_dir, device="cpu", compute_type="int8", cpu_threads=2)
    salon = load_business(DEFAULT_BUSINESSES_DIR / "demo-salon.yaml")
    listening = listening_prompt(salon, "spell", SPELL_QUESTION, "Dana Smith")
    assert listening.spelling_of == "Dana Smith" and "Dana" not in listening.prompt
    pcm = asyncio.run(make_caller_voice("espeak").synthesize("D, A, N, A, then S, M, I, T, H"))
    audio = resample(ulaw_decode(ulaw_encode(pcm)), SAMPLE_RATE, 16_000).tobytes()
    _text, stats, _rivals = hear(model, audio, listening, 1)
    scores = LetterScores.from_stats(stats)
    assert scores is not None and scores.name == "Dana Smith"
    assert [len(w) for w in scores.words] == [5, 6]
    right, tina = letter_logprobs(model, audio, ["Dana Smith", "Tina Smith"],
                                  prompt=listening.prompt)
    assert right == [list(w) for w in scores.words]
    assert np.mean(right[0][:4]) > np.mean(tina[0][:4]) + 1  # the I is no A
    assert not letters_fit(LetterScores("Tina Smith", tuple(map(tuple, tina))), "Tina Smith")


def test_only_a_spelling_heard_as_one_segment_is_judged() -> None:
    """Scores of one segment of a spelling cut in two by a pause say nothing of the name."""
    from voice_agent.pipeline.dialog_processor import _letter_scores

    scored = {"segments": 1, "letter_scores": {"name": "Al Fox", "letters": [[-0.1], [-0.2]]}}
    assert _letter_scores([scored]) == LetterScores("Al Fox", ((-0.1,), (-0.2,)))
    assert _letter_scores([scored, {"segments": 0}]) is not None  # an empty segment: no speech
    assert _letter_scores([scored, dict(scored)]) is None
    assert _letter_scores([{"segments": 1}]) is None


@pytest.mark.slow
def test_the_spelling_is_scored_against_every_name_it_could_be(model_dir) -> None:
    """While a heard name is spelled, the recogniser scores the audio against the heard name,
    the census names nearest the letters, and the heard name's rivals: here the audio singles
    the heard name out."""
    from connectors.schedule import load_business
    from voice_agent.dialog.name_choice import name_spelled
    from voice_agent.dialog.spelling import spelled_letters
    from voice_agent.pipeline.whisper_model import load_whisper

    model = load_whisper(model_dir, device="cpu", compute_type="int8", cpu_threads=2)
    salon = load_business(DEFAULT_BUSINESSES_DIR / "demo-salon.yaml")
    listening = listening_prompt(salon, "spell", SPELL_QUESTION, "Megan Foster")
    pcm = asyncio.run(make_caller_voice("espeak").synthesize(
        "M, E, G, A, N, then F, O, S, T, E, R"))
    audio = resample(ulaw_decode(ulaw_encode(pcm)), SAMPLE_RATE, 16_000).tobytes()
    _text, stats, rivals = hear(model, audio, listening, 1)
    assert list(stats["letter_scores"]["scored"]) == ["Megan Foster"] and rivals is not None
    stats["letter_scores"]["scored"] |= rivals()  # what the booking waits for
    scores = LetterScores.from_stats(stats)
    assert scores is not None and next(iter(scores.scored)) == "Megan Foster"
    assert "Meghan Foster" in scores.scored  # a rival: one letter more
    chosen = name_spelled("Megan Foster", spelled_letters(_text), scores)
    assert chosen is not None and chosen.name == "Megan Foster", scores.scored


@pytest.mark.slow
def test_a_spelling_segment_is_encoded_once_for_its_transcript_and_its_scores(
        model_dir, monkeypatch) -> None:
    """The encoder is most of a short segment's cost: the names scored reuse the encoder
    output of the transcription just made, and a fresh encoding gives the same output."""
    from faster_whisper import WhisperModel

    from connectors.schedule import load_business
    from voice_agent.pipeline import whisper_model
    from voice_agent.pipeline.whisper_model import load_whisper

    model = load_whisper(model_dir, device="cpu", compute_type="int8", cpu_threads=2)
    salon = load_business(DEFAULT_BUSINESSES_DIR / "demo-salon.yaml")
    listening = listening_prompt(salon, "spell", SPELL_QUESTION, "Dana Smith")
    pcm = asyncio.run(make_caller_voice("piper").synthesize("D, A, N, A, then S, M, I, T, H"))
    audio = resample(ulaw_decode(ulaw_encode(pcm)), SAMPLE_RATE, 16_000).tobytes()
    encoded: list[np.ndarray] = []
    real_encode = WhisperModel.encode

    def counted(self, features):
        out = real_encode(self, features)
        encoded.append(np.asarray(out).copy())
        return out

    monkeypatch.setattr(WhisperModel, "encode", counted)
    monkeypatch.setattr(whisper_model, "_LAST_ENCODED", threading.local())
    _text, stats, rivals = hear(model, audio, listening, 1)
    assert rivals is not None
    with ThreadPoolExecutor(1) as elsewhere:  # scored later, in another worker thread
        scored = stats["letter_scores"]["scored"] | elsewhere.submit(rivals).result()
    assert len(scored) > 1 and len(encoded) == 1
    whisper_model._LAST_ENCODED.item = None  # forget it: the same scores, encoded afresh
    again = letter_logprobs(model, audio, list(scored), prompt=listening.prompt)
    assert len(encoded) == 2 and np.array_equal(encoded[0], encoded[1])
    assert again == list(scored.values())


@pytest.mark.slow
def test_the_recogniser_hands_on_the_spelling_at_once_and_its_rivals_later(model_dir) -> None:
    """The transcription is pushed on with the heard name's own scores; the other names are
    scored in the background, as the job the transcription names."""
    from connectors.schedule import load_business
    from voice_agent.pipeline.stt import SharedWhisperSTTService
    from voice_agent.pipeline.whisper_model import load_whisper

    model = load_whisper(model_dir, device="cpu", compute_type="int8", cpu_threads=2)
    salon = load_business(DEFAULT_BUSINESSES_DIR / "demo-salon.yaml")
    listening = listening_prompt(salon, "spell", SPELL_QUESTION, "Dana Smith")
    pcm = asyncio.run(make_caller_voice("piper").synthesize("D, A, N, A, then S, M, I, T, H"))
    audio = resample(ulaw_decode(ulaw_encode(pcm)), SAMPLE_RATE, 16_000).tobytes()
    jobs: list[tuple[int, asyncio.Task]] = []

    async def run() -> tuple[list, dict]:
        stt = SharedWhisperSTTService(model=model, prompt=lambda: listening,
                                      later_scores=lambda job, task: jobs.append((job, task)))
        frames = [f async for f in stt.run_stt(audio)]
        assert len(jobs) == 1 and not jobs[0][1].done()  # still scoring when handed on
        return frames, await jobs[0][1]

    frames, rivals = asyncio.run(run())
    scores = LetterScores.from_stats(frames[-1].result)
    assert scores is not None and scores.later == jobs[0][0] == 1
    assert list(scores.scored) == ["Dana Smith"]
    assert "Dana Smith" not in rivals and "Tana Smith" in rivals


@pytest.mark.slow
@pytest.mark.parametrize(("voice_name", "name"), [("espeak", "Ruth Hale"),
                                                  ("espeak", "Mia Ross")])
def test_both_hearings_of_a_name_single_out_the_one_neither_heard_right(
        model_dir, voice_name: str, name: str) -> None:
    """With the caller's answer to the name question kept, the spelling's background job
    scores every candidate on both clips (and the pick's sound-alikes), and the name both
    point to is the caller's, though whisper wrote another name for it ("Ruth Kale", "Maria
    Ross") and the letters came through wrong. (espeak: the same audio every run.)"""
    from datetime import date

    from connectors.schedule import load_business
    from evals.simulator.caller_policy import spell
    from voice_agent.dialog.name_choice import JOINT_KEY, choose_joint
    from voice_agent.dialog.name_lexicon import name_lexicon
    from voice_agent.dialog.spelling import spelled_letters
    from voice_agent.dialog.understanding import understand
    from voice_agent.pipeline.spelling_check import NameClip
    from voice_agent.pipeline.whisper_model import load_whisper, transcribe

    model = load_whisper(model_dir, device="cpu", compute_type="int8", cpu_threads=2)
    salon = load_business(DEFAULT_BUSINESSES_DIR / "demo-salon.yaml")
    voice = make_caller_voice(voice_name)

    def line(text: str) -> bytes:
        pcm = asyncio.run(voice.synthesize(text))
        return resample(ulaw_decode(ulaw_encode(pcm)), SAMPLE_RATE, 16_000).tobytes()

    asked = listening_prompt(salon, "name", "Can I have your name for the booking, please?")
    said_audio = line(f"{name}.")
    said_text, _ = transcribe(model, said_audio, prompt=asked.prompt, examples=asked.examples)
    heard = understand(said_text, salon, date(2026, 11, 23), asked="name").name
    # Whisper's int8 kernels differ by CPU: where this test was written it wrote "Ruth Kale"
    # for Ruth Hale; on an AMD EPYC (AVX-512, 2026-12-04) it writes "Ruth Hale". The pick must
    # be the caller's either way; Mia Ross ("Maria Ross" on both) keeps the case where the
    # name was not heard right.
    if name == "Mia Ross":
        assert heard != name
    listening = listening_prompt(salon, "spell", SPELL_QUESTION, heard)
    text, stats, job = hear(model, line(spell(name)), listening, 1,
                            NameClip(said_audio, asked.prompt, said_text))
    assert job is not None and stats["letter_scores"]["name"] == (heard or "")
    assert spelled_letters(text) != "".join(name.split()).lower()
    result = {**stats["letter_scores"]["scored"], **job()}
    joint = result.pop(JOINT_KEY)
    assert set(joint["said"]) == set(result) and isinstance(joint["said_free"], float)
    # Both clips' scores put the caller's name first, ahead of every candidate by the margin
    # (the words' fit against whisper's own transcript aside: that guard sits at its edge for
    # Mia Ross, -2.04 against -2.0, on an AMD EPYC without AVX-512, 2026-12-06) ...
    leader = choose_joint(spelled_letters(text), result, joint["said"], joint["said_free"],
                          name_lexicon(), also=joint["letters_only"], name_gap=-100.0)
    assert leader is not None and leader.name == name, (said_text, text)
    # ... and what the agent takes, if anything, is that name, its sound-alikes scored too.
    chosen = choose_joint(spelled_letters(text), result, joint["said"], joint["said_free"],
                          name_lexicon(), alikes=joint["alikes"], also=joint["letters_only"])
    assert chosen is None or (chosen.name == name and joint["alikes"]), (said_text, text)


@pytest.mark.slow
def test_the_recogniser_keeps_the_name_said_for_its_spelling(model_dir) -> None:
    """The answer to the name question is kept; its spelling, though no name was made of
    that answer, is scored on both clips in the background, as the job the transcription
    names; a spelling with no name question before it is scored on its letters only."""
    from connectors.schedule import load_business
    from voice_agent.dialog.name_choice import JOINT_KEY
    from voice_agent.pipeline.stt import SharedWhisperSTTService
    from voice_agent.pipeline.whisper_model import load_whisper

    model = load_whisper(model_dir, device="cpu", compute_type="int8", cpu_threads=2)
    salon = load_business(DEFAULT_BUSINESSES_DIR / "demo-salon.yaml")
    voice = make_caller_voice("espeak")

    def line(text: str) -> bytes:
        pcm = asyncio.run(voice.synthesize(text))
        return resample(ulaw_decode(ulaw_encode(pcm)), SAMPLE_RATE, 16_000).tobytes()

    said, spelled = line("Derek Shaw."), line("D, E, R, E, K, then S, H, A, W")
    asked = [listening_prompt(salon, "name", "Can I have your name, please?"),
             listening_prompt(salon, "spell", SPELL_QUESTION, None)]
    jobs: list[tuple[int, asyncio.Task]] = []

    async def run(first_said: bool) -> list:
        prompts = iter(asked if first_said else asked[1:])
        stt = SharedWhisperSTTService(model=model, prompt=lambda: next(prompts),
                                      later_scores=lambda job, task: jobs.append((job, task)))
        frames = []
        for audio in ([said] if first_said else []) + [spelled]:
            frames += [f async for f in stt.run_stt(audio)]
        return [await task for _job, task in jobs] + [frames[-1].result]

    *results, stats = asyncio.run(run(first_said=True))
    assert len(results) == 1 and JOINT_KEY in results[0]
    assert LetterScores.from_stats(stats) == LetterScores("", (), {}, later=1)
    jobs.clear()
    *results, stats = asyncio.run(run(first_said=False))
    assert results == [] and LetterScores.from_stats(stats) is None


@pytest.mark.slow
def test_a_spelling_read_as_letters_only_holds_nothing_else(model_dir) -> None:
    """Whisper's transcript of espeak's "R, A, C, H, E, L, then G, R, E, E, N" over the line
    writes words and runs of the same letter; read as letters only (the vocabulary cut down
    to " A" ... " Z", commas, "then" and the period) the same audio gives letters whose
    nearest census names hold the caller's: what the joint choice scores."""
    import re

    from connectors.schedule import load_business
    from evals.simulator.caller_policy import spell
    from voice_agent.dialog.name_choice import joint_candidates
    from voice_agent.dialog.name_lexicon import name_lexicon
    from voice_agent.dialog.spelling import spelled_letters
    from voice_agent.pipeline.spelling_check import letters_only
    from voice_agent.pipeline.whisper_model import load_whisper

    model = load_whisper(model_dir, device="cpu", compute_type="int8", cpu_threads=2)
    salon = load_business(DEFAULT_BUSINESSES_DIR / "demo-salon.yaml")
    listening = listening_prompt(salon, "spell", SPELL_QUESTION)
    pcm = asyncio.run(make_caller_voice("espeak-f").synthesize(spell("Rachel Green")))
    audio = resample(ulaw_decode(ulaw_encode(pcm)), SAMPLE_RATE, 16_000).tobytes()
    text, mean_logprob = letters_only(model, audio, prompt=listening.prompt)
    assert re.fullmatch(r"(?:[A-Z]|then)(?:,? (?:[A-Z]|then))*\.?", text), text
    assert -5.0 < mean_logprob < 0.0
    also = spelled_letters(text)
    assert len(also) >= 8
    assert "Rachel Green" in joint_candidates(None, "", "rhhhhlmgrccm", name_lexicon(), also)
