"""Model assembly from the weight-carrying packages: idempotent and checksum-verified."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from voice_agent.config import Settings
from voice_agent.runtime import model_files as models
from voice_agent.runtime.model_files import (
    ModelAssemblyError,
    assemble_all,
    assemble_llm,
    assemble_whisper,
)


def snapshot(directory: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(directory)): (p.stat().st_mtime_ns, p.stat().st_size)
            for p in sorted(directory.rglob("*")) if p.is_file()}


def test_assemble_all_is_idempotent_on_the_default_models_dir() -> None:
    models_dir = Settings(_env_file=None).models_dir
    first = assemble_all(models_dir)  # assembles if this checkout has not yet
    before = snapshot(models_dir)
    started = time.monotonic()
    second = assemble_all(models_dir)
    assert time.monotonic() - started < 1.0  # nothing copied, nothing hashed
    assert second == first
    assert snapshot(models_dir) == before
    assert first.llm_gguf.is_file() and first.llm_gguf.name == models.LLM_FILE
    assert (first.whisper_dir / "model.bin").is_file()
    assert first.piper_model.is_file() and first.piper_config.is_file()


def _patched(monkeypatch, **changes) -> None:
    spec = models.EMBEDDED_LLMS[models.DEFAULT_LLM]
    monkeypatch.setitem(models.EMBEDDED_LLMS, models.DEFAULT_LLM,
                        dataclasses.replace(spec, **changes))


def test_missing_model_package_is_a_clear_error(monkeypatch, tmp_path) -> None:
    _patched(monkeypatch, packages=("voice_agent_no_such_model_package",))
    with pytest.raises(ModelAssemblyError, match=r"pip install 'voice-agent\[models\]'"):
        assemble_llm(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_the_larger_llm_names_its_own_extra(monkeypatch, tmp_path) -> None:
    spec = models.EMBEDDED_LLMS["qwen2.5-coder-1.5b"]
    monkeypatch.setitem(models.EMBEDDED_LLMS, "qwen2.5-coder-1.5b", dataclasses.replace(
        spec, packages=("voice_agent_no_such_model_package",)))
    with pytest.raises(ModelAssemblyError, match=r"voice-agent\[models-1-5b\]"):
        assemble_llm(tmp_path, "qwen2.5-coder-1.5b")


@pytest.mark.slow
def test_llm_with_wrong_checksum_leaves_nothing_behind(monkeypatch, tmp_path) -> None:
    _patched(monkeypatch, sha256="0" * 64)
    with pytest.raises(ModelAssemblyError, match="checksum mismatch"):
        assemble_llm(tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_whisper_assembly_repairs_a_truncated_model(tmp_path) -> None:
    target = assemble_whisper(tmp_path)
    assert {p.name for p in target.iterdir()} == {
        "model.bin", "config.json", "tokenizer.json", "vocabulary.txt"}
    good = snapshot(tmp_path)
    assert assemble_whisper(tmp_path) == target
    assert snapshot(tmp_path) == good  # untouched the second time

    model_bin = target / "model.bin"
    size = model_bin.stat().st_size
    with model_bin.open("r+b") as fh:
        fh.truncate(size // 2)
    assemble_whisper(tmp_path)
    assert model_bin.stat().st_size == size
    assert not list(tmp_path.rglob("*.partial"))
