"""Bench profiles: the settings both servers (ours and stock) get, so one command runs on this
CPU box and, unchanged, on a GPU box. A profile only sets environment variables read by
``voice_agent.config.Settings``; it never changes code paths.

* ``cpu`` (default): the embedded defaults: whisper base on CPU int8, the llama.cpp sidecar
  with the 0.5B GGUF, Piper sidecar.
* ``gpu``: the LLM over an OpenAI-compatible vLLM server (``--llm-url``, else
  ``$BENCH_VLLM_URL``, else ``http://127.0.0.1:8000/v1``; set ``LLM_MODEL`` to the served
  model's name), whisper on CUDA float16; Piper stays a CPU sidecar. With an LLM URL our agent
  reads every turn with the LLM (``reading_mode`` "always"), as in production.
"""

from __future__ import annotations

import os

__all__ = ["PROFILES", "profile_env"]

PROFILES = ("cpu", "gpu")
DEFAULT_VLLM_URL = "http://127.0.0.1:8000/v1"


def profile_env(profile: str, *, llm_url: str | None = None) -> dict[str, str]:
    """The environment a profile adds to both servers' (``--llm-url`` wins over the profile)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r} (one of {', '.join(PROFILES)})")
    env: dict[str, str] = {}
    if profile == "gpu":
        env |= {"LLM_BASE_URL": os.environ.get("BENCH_VLLM_URL", DEFAULT_VLLM_URL),
                "VOICE_AGENT_STT_DEVICE": "cuda", "VOICE_AGENT_STT_COMPUTE_TYPE": "float16"}
    if llm_url:
        env["LLM_BASE_URL"] = llm_url
    return env
