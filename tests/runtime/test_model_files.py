"""Model assembly from the weight-carrying packages: idempotent and checksum-verified."""

from __future__ import annotations

import dataclasses
import os
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


# -- integrity: every model file against its recorded sha256 -----------------------------------


def _copy_of_the_models(tmp_path: Path) -> models.ModelPaths:
    """The assembled models as a separate tree: small files copied (so they can be
    tampered with), large ones symlinked (hashed through the link, never altered)."""
    real = assemble_all(Settings(_env_file=None).models_dir)
    whisper = tmp_path / models.WHISPER_DIR
    whisper.mkdir()
    for name in models.WHISPER_SHA256:
        src = real.whisper_dir / name
        if name == "model.bin":
            (whisper / name).symlink_to(src)
        else:
            (whisper / name).write_bytes(src.read_bytes())
    piper = tmp_path / "piper"
    piper.mkdir()
    (piper / real.piper_config.name).write_bytes(real.piper_config.read_bytes())
    (piper / real.piper_model.name).symlink_to(real.piper_model)
    gguf = tmp_path / real.llm_gguf.name
    gguf.symlink_to(real.llm_gguf)
    return models.ModelPaths(whisper, gguf, piper / real.piper_model.name,
                             piper / real.piper_config.name)


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_the_untampered_copy_verifies(tmp_path: Path) -> None:
    models.verify_model_files(_copy_of_the_models(tmp_path))


@pytest.mark.parametrize("which", ["whisper_config", "whisper_tokenizer", "piper_config",
                                   "gguf"])
def test_a_tampered_model_file_is_refused(tmp_path: Path, which: str) -> None:
    paths = _copy_of_the_models(tmp_path)
    if which == "gguf":  # same size, different bytes: a swapped model
        size = paths.llm_gguf.stat().st_size
        paths.llm_gguf.unlink()
        with paths.llm_gguf.open("wb") as fh:
            fh.truncate(size)
        target = paths.llm_gguf
    else:
        target = {"whisper_config": paths.whisper_dir / "config.json",
                  "whisper_tokenizer": paths.whisper_dir / "tokenizer.json",
                  "piper_config": paths.piper_config}[which]
        _flip_a_byte(target)
    with pytest.raises(models.ModelIntegrityError) as info:
        models.verify_model_files(paths)
    message = str(info.value)
    assert str(target) in message and "recorded sha256" in message
    assert "Refusing" in message


def test_assembly_refuses_a_tampered_whisper_file_and_removes_it(tmp_path: Path) -> None:
    """A file whose stamp is current is not re-hashed at assembly, but one altered after
    assembly (size kept, mtime changed) is, and is removed rather than left to load."""
    real_dir = Settings(_env_file=None).models_dir
    assemble_all(real_dir)
    target = tmp_path / models.WHISPER_DIR
    target.mkdir()
    (target / "model.bin").symlink_to(real_dir / models.WHISPER_DIR / "model.bin")
    models.assemble_whisper(tmp_path)  # copies the small files, verifies all four
    vocabulary = target / "vocabulary.txt"
    _flip_a_byte(vocabulary)
    with pytest.raises(models.ModelIntegrityError, match=r"vocabulary\.txt"):
        models.assemble_whisper(tmp_path)
    assert not vocabulary.exists()
    models.assemble_whisper(tmp_path)  # the next assembly copies a good one again
    assert models._sha256(vocabulary) == models.WHISPER_SHA256["vocabulary.txt"]


async def test_the_runtime_refuses_to_start_on_a_tampered_model(tmp_path: Path) -> None:
    from voice_agent.runtime.container import Runtime

    models_dir = tmp_path / "models"
    models_dir.mkdir()
    paths = _copy_of_the_models(models_dir)
    real_dir = Settings(_env_file=None).models_dir
    stamp = real_dir / models.EMBEDDED_LLMS[models.DEFAULT_LLM].file
    (models_dir / stamp.with_suffix(".sha256").name).write_text(
        stamp.with_suffix(".sha256").read_text())
    models.assemble_whisper(models_dir)  # stamps written: assembly itself will skip them
    config = paths.whisper_dir / "config.json"
    before = config.stat()
    _flip_a_byte(config)  # ... and set its mtime back, so the stamp still looks current
    os.utime(config, ns=(before.st_atime_ns, before.st_mtime_ns))
    runtime = Runtime(Settings(_env_file=None, data_dir=tmp_path / "data",
                               models_dir=models_dir, env="dev"))
    try:
        with pytest.raises(models.ModelIntegrityError, match=r"config\.json"):
            await runtime.start()
        assert runtime.whisper is None and runtime.sidecars == [] and not runtime.ready
        assert config.exists()  # refused by the check before loading, not by assembly
    finally:
        await runtime.stop()
