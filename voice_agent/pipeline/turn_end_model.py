"""Has the caller finished speaking? pipecat's bundled Smart Turn v3.2 model, read directly.

The model (``smart-turn-v3.2-cpu.onnx``, shipped inside the pipecat-ai wheel) scores the last
8 s of a turn's audio for whether the speaker has finished, from the audio alone (intonation,
a word left hanging). The dialog uses the score only to end a turn *sooner* than the speech
timeout, never later: a turn the model thinks unfinished still ends when the timeout says so
(``turn_detector.py``), so a model misled by a flat or synthetic voice costs no time.

The ONNX session is built once per process and shared by every call (``cpu_threads`` 1: it runs
beside whisper on a small box). Inference is synchronous; callers run it in a worker thread.
"""

from __future__ import annotations

import threading
from importlib import resources

import numpy as np
import onnxruntime as ort
from pipecat.audio.turn.smart_turn._whisper_features import compute_whisper_log_mel_features

__all__ = ["MODEL_RATE", "TurnEndModel", "load_turn_end_model"]

MODEL_RATE = 16_000
_WINDOW_S = 8
_MODEL_FILE = "smart-turn-v3.2-cpu.onnx"
_LOCK = threading.Lock()
_SHARED: dict[int, TurnEndModel] = {}


class TurnEndModel:
    def __init__(self, *, cpu_threads: int = 1) -> None:
        path = resources.files("pipecat.audio.turn.smart_turn.data").joinpath(_MODEL_FILE)
        options = ort.SessionOptions()
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = cpu_threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(str(path), sess_options=options)
        self._run_lock = threading.Lock()  # one session, several calls' threads

    def probability(self, audio: np.ndarray) -> float:
        """P(the turn is complete) for 16 kHz mono float32 audio in [-1, 1], ending now."""
        window = MODEL_RATE * _WINDOW_S
        audio = np.asarray(audio, dtype=np.float32)[-window:]
        if audio.size < window:
            audio = np.pad(audio, (window - audio.size, 0))
        features = compute_whisper_log_mel_features(audio, do_normalize=True)
        with self._run_lock:
            out = self._session.run(None, {"input_features": features[np.newaxis]})
        return float(np.asarray(out[0]).reshape(-1)[0])


def load_turn_end_model(*, cpu_threads: int = 1) -> TurnEndModel:
    """The process's shared model (built on first use)."""
    with _LOCK:
        if cpu_threads not in _SHARED:
            _SHARED[cpu_threads] = TurnEndModel(cpu_threads=cpu_threads)
        return _SHARED[cpu_threads]
