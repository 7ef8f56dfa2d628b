"""faster-whisper, loaded once per process from a local model directory (no hub access)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
from faster_whisper import WhisperModel

_MODELS: dict[tuple[str, str, str, int], WhisperModel] = {}
_LOCK = threading.Lock()


def load_whisper(
    model_dir: Path, *, device: str, compute_type: str, cpu_threads: int
) -> WhisperModel:
    """Load (once per process) the CTranslate2 whisper model from a local directory."""
    key = (str(model_dir), device, compute_type, cpu_threads)
    with _LOCK:
        if key not in _MODELS:
            _MODELS[key] = WhisperModel(
                str(model_dir), device=device, compute_type=compute_type,
                cpu_threads=cpu_threads, local_files_only=True,
            )
        return _MODELS[key]


def transcribe(model: WhisperModel, pcm16k: bytes, *, no_speech_threshold: float = 0.6
               ) -> tuple[str, dict[str, Any]]:
    """Transcribe 16 kHz int16 PCM; returns text and confidence statistics."""
    audio = np.frombuffer(pcm16k, dtype=np.int16).astype(np.float32) / 32768.0
    segments, _ = model.transcribe(
        audio, language="en", beam_size=1, condition_on_previous_text=False,
        without_timestamps=True,
    )
    kept = [s for s in segments if s.no_speech_prob < no_speech_threshold or s.avg_logprob > -0.7]
    text = " ".join(s.text.strip() for s in kept).strip()
    stats: dict[str, Any] = {
        "avg_logprob": float(np.mean([s.avg_logprob for s in kept])) if kept else None,
        "no_speech_prob": float(max(s.no_speech_prob for s in kept)) if kept else None,
        "segments": len(kept),
        "audio_s": round(len(audio) / 16000, 3),
    }
    return text, stats
