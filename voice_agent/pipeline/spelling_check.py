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

from typing import Any

import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.audio import pad_or_trim
from faster_whisper.tokenizer import Tokenizer

from voice_agent.dialog.names import name_words

__all__ = ["letter_logprobs", "spelling_tokens"]

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


def letter_logprobs(model: WhisperModel, pcm16k: bytes, names: list[str], *,
                    prompt: str | None, encoded: Any | None = None) -> list[list[list[float]]]:
    """For each of ``names``, each letter's log-probability (and its word's end), word by
    word, when the audio is
read as that name spelled (after ``prompt``, as the transcription was); the
    audio is encoded once (``encoded``: its encoder output, already computed). A name
    without letters gets an empty list."""
    tok = _tokenizer(model)
    start = [*tok.sot_sequence, tok.no_timestamps]
    if prompt:
        start = [tok.sot_prev, *tok.encode(" " + prompt.strip())[-_MAX_PROMPT_TOKENS:], *start]
    audio = np.frombuffer(pcm16k, dtype=np.int16).astype(np.float32) / 32768.0
    features = model.feature_extractor(audio)
    # The segment exactly as ``WhisperModel.transcribe`` cuts it (its last frame dropped),
    # so that the encoder output of the transcription just made is reused, not recomputed.
    frames = min(features.shape[-1] - 1, 3000)
    if encoded is None:
        encoded = model.encode(pad_or_trim(features[:, :frames]))
    out: list[list[list[float]]] = []
    for name in names:
        tokens, positions = spelling_tokens(model.hf_tokenizer, name)
        if not positions:
            out.append([])
            continue
        result = model.model.align(encoded, start, [tokens], frames)[0]
        logp = np.log(np.clip(np.asarray(result.text_token_probs, dtype=np.float64),
                              1e-12, 1.0))
        out.append([[round(float(logp[i]), 4) for i in spots] for spots in positions])
    return out
