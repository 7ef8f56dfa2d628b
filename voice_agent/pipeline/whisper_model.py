"""faster-whisper, loaded once per process from a local model directory (no hub access).

``transcribe`` can condition the decoder on what the agent expects to hear
(``dialog/listening.py``). A prompt can also make whisper write words nobody said: on noise it
tends to repeat the prompt, and a decoder led astray loops or loses confidence. So a prompted
transcript is kept only when it passes the gate (no segment with a compression ratio above
2.4, an average log-probability below -1, the prompt's own sentences echoed back, or one of
the prompt's example phrases, or a distinctive word of one, heard); otherwise
the segment is decoded again without the prompt, and the turn records why.

The encoder, not the decoder, is most of a short segment's cost (about 0.67 s of whisper
base on 2 cores, for audio padded to 30 s), and a segment is often encoded twice: decoded
again without the prompt, or scored as a spelling after its transcription
(``spelling_check.py``). ``load_whisper``'s model remembers, per thread, the features it
encoded last and their encoder output, and hands the output back for the same features.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import numpy as np
from faster_whisper import WhisperModel
from rapidfuzz import fuzz

_MODELS: dict[tuple[str, str, str, int], WhisperModel] = {}
_LOCK = threading.Lock()
_LAST_ENCODED = threading.local()  # per worker thread: (features, encoder output)

MAX_COMPRESSION_RATIO = 2.4  # whisper's own threshold for a looping decode
MIN_PROMPTED_LOGPROB = -1.0
_SENTENCE = re.compile(r"[^.!?]+[.!?]?")


class ReusingWhisperModel(WhisperModel):
    """A ``WhisperModel`` whose ``encode`` returns the output it computed last in this
    thread when it is given the same features again (identical input, identical output:
    only the time is saved). One segment is transcribed per thread at a time, so the
    cache never holds more than one segment per worker thread."""

    def encode(self, features: np.ndarray) -> Any:
        last = getattr(_LAST_ENCODED, "item", None)
        if last is not None and last[0].shape == features.shape and np.array_equal(
                last[0], features):
            return last[1]
        encoded = super().encode(features)
        _LAST_ENCODED.item = (np.array(features, copy=True), encoded)
        return encoded


def last_encoded() -> Any | None:
    """The encoder output this thread computed last (a ``ctranslate2.StorageView``)."""
    last = getattr(_LAST_ENCODED, "item", None)
    return last[1] if last is not None else None


def load_whisper(
    model_dir: Path, *, device: str, compute_type: str, cpu_threads: int
) -> WhisperModel:
    """Load (once per process) the CTranslate2 whisper model from a local directory."""
    key = (str(model_dir), device, compute_type, cpu_threads)
    with _LOCK:
        if key not in _MODELS:
            _MODELS[key] = ReusingWhisperModel(
                str(model_dir), device=device, compute_type=compute_type,
                cpu_threads=cpu_threads, local_files_only=True,
            )
        return _MODELS[key]


def _decode(model: WhisperModel, audio: np.ndarray, prompt: str | None, beam_size: int,
            no_speech_threshold: float) -> tuple[str, list[Any]]:
    segments, _ = model.transcribe(
        audio, language="en", beam_size=beam_size, condition_on_previous_text=False,
        without_timestamps=True, initial_prompt=prompt or None,
    )
    kept = [s for s in segments if s.no_speech_prob < no_speech_threshold or s.avg_logprob > -0.7]
    return " ".join(s.text.strip() for s in kept).strip(), kept


def prompt_echo(text: str, prompt: str) -> bool:
    """Whether ``text`` repeats two or more sentences of ``prompt`` (what whisper writes when
    it hallucinates from its prompt), or one sentence of it of eight words or more."""
    heard = text.lower()
    echoed = [s for s in (m.strip().lower() for m in _SENTENCE.findall(prompt))
              if len(s) >= 6 and fuzz.partial_ratio(s, heard) >= 92]
    return len(echoed) >= 2 or any(len(s.split()) >= 8 for s in echoed)


def _rejection(text: str, kept: list[Any], prompt: str, examples: tuple[str, ...]
               ) -> str | None:
    if any(s.compression_ratio > MAX_COMPRESSION_RATIO for s in kept):
        return "compression_ratio"
    if kept and min(s.avg_logprob for s in kept) < MIN_PROMPTED_LOGPROB:
        return "low_logprob"
    if text and prompt_echo(text, prompt):
        return "prompt_echo"
    if example_heard(text, examples):
        return "prompt_example"
    return None


def _fold_words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower().replace("'", "").replace("’", ""))


def example_heard(text: str, examples: tuple[str, ...]) -> bool:
    """Whether ``text`` holds one of the prompt's example phrases, or a distinctive word of
    one (five letters or more): on the script names, whisper wrote "Carmen O'Brien" for
    Carmen Ortiz and "Samuel O'Brien" for Samuel Okoro, the example's surname alone."""
    heard = text.lower()
    if len(heard) >= 4 and any(fuzz.partial_ratio(e.lower(), heard) >= 90 for e in examples):
        return True
    words = set(_fold_words(text))
    return any(w in words for e in examples for w in _fold_words(e) if len(w) >= 5)


def transcribe(model: WhisperModel, pcm16k: bytes, *, prompt: str | None = None,
               examples: tuple[str, ...] = (), beam_size: int = 1,
               no_speech_threshold: float = 0.6) -> tuple[str, dict[str, Any]]:
    """Transcribe 16 kHz int16 PCM, conditioned on ``prompt`` when it passes the gate
    (``examples``: phrases in the prompt only as examples); returns the text and its
    confidence statistics (``prompted``: whether the prompt was kept, ``prompt_rejected``:
    why it was not)."""
    audio = np.frombuffer(pcm16k, dtype=np.int16).astype(np.float32) / 32768.0
    text, kept = _decode(model, audio, prompt, beam_size, no_speech_threshold)
    rejected = _rejection(text, kept, prompt, examples) if prompt else None
    if rejected:
        text, kept = _decode(model, audio, None, beam_size, no_speech_threshold)
    stats: dict[str, Any] = {
        "avg_logprob": float(np.mean([s.avg_logprob for s in kept])) if kept else None,
        "no_speech_prob": float(max(s.no_speech_prob for s in kept)) if kept else None,
        "segments": len(kept),
        "audio_s": round(len(audio) / 16000, 3),
        "prompted": bool(prompt) and not rejected,
    }
    if rejected:
        stats["prompt_rejected"] = rejected
    return text, stats
