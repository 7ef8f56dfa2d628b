"""How well the caller's spelling audio fits the letters of the name heard: forced decoding.

Whisper base writes a spelling over an 8 kHz line badly ("D, A, N, A, Z, F, N, S, T, H" for
"D, A, N, A, then S, M, I, T, H"): the best transcript is one guess among letters that sound
alike, and comparing it with the name throws away how sure whisper was of each letter. Asking
the other way round is sharper: given the audio and the prompt, how probable is each letter of
the heard name's spelling, written the way a caller says it ("D, A, N, A, then S, M, I, T,
H.")? The decoder is run once over that text (teacher forcing, ``ctranslate2`` ``align``: the
probability of every token given the audio and the tokens before it), and each letter's
log-probability is returned, word by word. ``dialog/spelling.py`` decides what they prove.

The tokens are built by hand: this tokenizer writes " then" as two tokens the model never
produces, so a text encoding would score a sequence whisper cannot emit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.audio import pad_or_trim
from faster_whisper.tokenizer import Tokenizer

from voice_agent.dialog.name_choice import (
    JOINT_KEY,
    choose_joint,
    joint_candidates,
    rivals_of_pick,
)
from voice_agent.dialog.name_lexicon import name_lexicon
from voice_agent.dialog.names import name_words
from voice_agent.dialog.spelling import spelled_letters

__all__ = ["JOINT_KEY", "NameClip", "joint_evidence", "letter_logprobs", "letters_only",
           "said_logprobs", "spelling_tokens"]


_MAX_PROMPT_TOKENS = 223  # whisper reads at most half its 448-token context as the prompt
_TOKENIZERS: dict[int, Tokenizer] = {}


def _tokenizer(model: WhisperModel) -> Tokenizer:
    key = id(model)
    if key not in _TOKENIZERS:
        _TOKENIZERS[key] = Tokenizer(model.hf_tokenizer, model.model.is_multilingual,
                                     task="transcribe", language="en")
    return _TOKENIZERS[key]


def name_letters(name: str) -> list[str]:
    """The name's words as the upper-case letters a caller spells (accents set aside)."""
    return [w.upper() for w in name_words(name)]


def spelling_tokens(hf_tokenizer: Any, name: str) -> tuple[list[int], list[list[int]]]:
    """Token ids of the name spelled as a caller says it ("D, A, N, A, then S, M, I, T, H."),
    and, word by word, the index of each letter's token in them and then of the token that
    ends the word (the "then" before the next word, the final period): a name one letter
    short of what was spelled is caught there."""
    comma, period = hf_tokenizer.token_to_id(","), hf_tokenizer.token_to_id(".")
    then = hf_tokenizer.token_to_id("\u0120then")
    tokens: list[int] = []
    positions: list[list[int]] = []
    for w, word in enumerate(name_letters(name)):
        if w:
            tokens.append(comma)
            positions[-1].append(len(tokens))
            tokens.append(then)
        spots = []
        for i, letter in enumerate(word):
            if i:
                tokens.append(comma)
            spots.append(len(tokens))
            tokens.append(hf_tokenizer.token_to_id("\u0120" + letter))
        positions.append(spots)
    if positions:
        positions[-1].append(len(tokens))
    tokens.append(period)
    return tokens, positions


def _forced_inputs(model: WhisperModel, pcm16k: bytes, prompt: str | None,
                   encoded: Any | None) -> tuple[list[int], Any, int]:
    """The decoder's start tokens after ``prompt``, the audio's encoder output (``encoded``
    when already computed) and its frame count, for forced decoding. The segment is cut
    exactly as ``WhisperModel.transcribe`` cuts it (its last frame dropped), so that the
    encoder output of the transcription just made is reused, not recomputed."""
    tok = _tokenizer(model)
    start = [*tok.sot_sequence, tok.no_timestamps]
    if prompt:
        start = [tok.sot_prev, *tok.encode(" " + prompt.strip())[-_MAX_PROMPT_TOKENS:], *start]
    audio = np.frombuffer(pcm16k, dtype=np.int16).astype(np.float32) / 32768.0
    features = model.feature_extractor(audio)
    frames = min(features.shape[-1] - 1, 3000)
    if encoded is None:
        encoded = model.encode(pad_or_trim(features[:, :frames]))
    return start, encoded, frames


_LETTERS_ONLY: dict[int, tuple[list[int], int]] = {}
_MAX_SPELLED_TOKENS = 120  # 40 letters with their commas, and a "then" or two


def _letters_vocabulary(model: WhisperModel) -> tuple[list[int], int]:
    """Every token id a spelling cannot hold (to suppress), and the end-of-text id: what is
    left is " A" ... " Z", the comma, the period and " then"."""
    key = id(model)
    if key not in _LETTERS_ONLY:
        hf = model.hf_tokenizer
        keep = {hf.token_to_id("\u0120" + c) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
        keep |= {hf.token_to_id(","), hf.token_to_id("."), hf.token_to_id("\u0120then")}
        eot = _tokenizer(model).eot
        keep.add(eot)
        _LETTERS_ONLY[key] = ([t for t in range(hf.get_vocab_size()) if t not in keep], eot)
    return _LETTERS_ONLY[key]


def letters_only(model: WhisperModel, pcm16k: bytes, *, prompt: str | None,
                 encoded: Any | None = None, beam_size: int = 4) -> tuple[str, float]:
    """The spelling whisper hears when it may write nothing but letters, commas, periods and
    "then": its free transcript of a spelling over a phone line is full of words that are
    letters as they sound ("the" for D, "okay" for K, "you" for U, "Ben" for "then N"),
    and forcing the choice among letters lets the audio decide which letter each was.
    Returns the text ("D, A, N, A, then S, M, I, T, H.") and its mean token log-probability."""
    start, encoded, _frames = _forced_inputs(model, pcm16k, prompt, encoded)
    suppress, eot = _letters_vocabulary(model)
    result = model.model.generate(
        encoded, [start], beam_size=beam_size, num_hypotheses=1, return_scores=True,
        max_length=min(448, len(start) + _MAX_SPELLED_TOKENS), suppress_blank=False,
        suppress_tokens=suppress)[0]
    tokens = [t for t in result.sequences_ids[0] if t < eot]
    text = model.hf_tokenizer.decode(tokens).strip()
    return text, float(result.scores[0]) if result.scores else 0.0


def _token_logprobs(model: WhisperModel, encoded: Any, start: list[int], tokens: list[int],
                    frames: int) -> np.ndarray:
    """Each of ``tokens``' log-probability given the audio and the tokens before it."""
    result = model.model.align(encoded, start, [tokens], frames)[0]
    return np.log(np.clip(np.asarray(result.text_token_probs, dtype=np.float64), 1e-12, 1.0))


def letter_logprobs(model: WhisperModel, pcm16k: bytes, names: list[str], *,
                    prompt: str | None, encoded: Any | None = None) -> list[list[list[float]]]:
    """For each of ``names``, each letter's log-probability (and its word's end), word by
    word, when the audio is read as that name spelled (after ``prompt``, as the
    transcription was); the audio is encoded once (``encoded``: its encoder output, already
    computed). A name without letters gets an empty list."""
    start, encoded, frames = _forced_inputs(model, pcm16k, prompt, encoded)
    out: list[list[list[float]]] = []
    for name in names:
        tokens, positions = spelling_tokens(model.hf_tokenizer, name)
        if not positions:
            out.append([])
            continue
        logp = _token_logprobs(model, encoded, start, tokens, frames)
        out.append([[round(float(logp[i]), 4) for i in spots] for spots in positions])
    return out


def said_logprobs(model: WhisperModel, pcm16k: bytes, texts: list[str], *,
                  prompt: str | None, encoded: Any | None = None) -> list[float]:
    """For each of ``texts``, the log-likelihood of the audio being read as it, written as a
    caller's answer to the name question is ("Dana Smith."): the sum over its tokens, by
    forced decoding after ``prompt``. Trailing punctuation is set aside so that whisper's own
    transcript ("Then Carter.") and a candidate ("Ben Carter") are scored alike."""
    tok = _tokenizer(model)
    start, encoded, frames = _forced_inputs(model, pcm16k, prompt, encoded)
    out: list[float] = []
    for text in texts:
        tokens = tok.encode(" " + text.strip().rstrip(".!?,;: ") + ".")
        out.append(round(float(_token_logprobs(model, encoded, start, tokens, frames).sum()), 4))
    return out


@dataclass(frozen=True)
class NameClip:
    """The caller's answer to the name question as the recogniser heard it: its audio (16 kHz
    int16), the prompt it was transcribed after, and the transcript."""

    audio: bytes
    prompt: str
    text: str


def joint_evidence(model: WhisperModel, spell_audio: bytes, spell_prompt: str,
                   encoded: Any | None, clip: NameClip, heard: str | None, letters: str,
                   have: dict[str, list[list[float]]]) -> dict[str, Any]:
    """Both hearings of the caller's name, scored against the names it could be
    (``name_choice.joint_candidates``): each name's letters on the spelling's audio (those in
    ``have`` already were) and its words on the name clip's, whisper's own transcript of
    the clip scored the same way; and, when ``choose_joint`` would take a name, that name's
    sound-alikes on both clips. The candidates come from the letters of the transcript and
    from the spelling read as letters only (``letters_only``): on the call scripts' names
    over the eval's lines the two together hold the caller's name in 122 of 366 spellings,
    the transcript's alone in 96 (``benchmarks/spelling_decode.py``). Returned as the rival
    names' letters, with the rest under ``JOINT_KEY`` ({"said", "said_free", "alikes",
    "letters_only"}). About 0.15 s of 2 cores a name: run in the background, for the
    booking to decide by (``name_choice.settle_name_choice``)."""
    lexicon = name_lexicon()
    also = spelled_letters(letters_only(model, spell_audio, prompt=spell_prompt,
                                        encoded=encoded)[0])
    names = joint_candidates(heard, clip.text, letters, lexicon, also)
    need = [n for n in names if n not in have]
    fresh = dict(zip(need, letter_logprobs(model, spell_audio, need, prompt=spell_prompt,
                                           encoded=encoded), strict=True))
    scored = {**have, **fresh}
    _start, clip_encoded, _frames = _forced_inputs(model, clip.audio, None, None)
    said_all = said_logprobs(model, clip.audio, [*names, clip.text], prompt=clip.prompt,
                             encoded=clip_encoded)
    said, free = dict(zip(names, said_all[:-1], strict=True)), said_all[-1]
    pick = choose_joint(letters, scored, said, free, lexicon, also=also)
    alikes: dict[str, tuple[list[list[float]], float]] = {}
    alike = [n for n in rivals_of_pick(pick.name, letters, also) if n not in scored
             ] if pick else []
    if alike:
        alike_letters = letter_logprobs(model, spell_audio, alike, prompt=spell_prompt,
                                        encoded=encoded)
        alike_said = said_logprobs(model, clip.audio, alike, prompt=clip.prompt,
                                   encoded=clip_encoded)
        alikes = {n: (w, v) for n, w, v in zip(alike, alike_letters, alike_said, strict=True)}
    return {**fresh, JOINT_KEY: {"said": said, "said_free": free, "alikes": alikes,
                                 "letters_only": also}}
