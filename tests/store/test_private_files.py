"""The database, recordings and data folders are private (0600 / 0700) whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from voice_agent.store.db import make_engine, upgrade
from voice_agent.store.private_files import private_dir, private_file


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    """The common default: without our care, files would come out 0644 (world-readable)."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_private_dir_creates_and_tightens(tmp_path: Path) -> None:
    fresh = private_dir(tmp_path / "a" / "b")
    assert mode(fresh) == 0o700
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    assert mode(private_dir(loose)) == 0o700


def test_private_file_creates_and_tightens_without_truncating(tmp_path: Path) -> None:
    assert mode(private_file(tmp_path / "new")) == 0o600
    loose = tmp_path / "loose"
    loose.write_text("kept")
    loose.chmod(0o644)
    assert mode(private_file(loose)) == 0o600 and loose.read_text() == "kept"


def test_the_sqlite_database_and_its_wal_are_0600(tmp_path: Path) -> None:
    db = tmp_path / "data" / "voice_agent.db"
    engine = make_engine(f"sqlite:///{db}")
    try:
        upgrade(engine)
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE t (x)"))
            conn.execute(sa.text("INSERT INTO t VALUES (1)"))
        companions = [p for p in db.parent.iterdir() if p.name.startswith(db.name + "-")]
        assert companions  # WAL mode: -wal / -shm exist while the engine is open
        assert {p.name: mode(p) for p in [db, *companions]} == {
            p.name: 0o600 for p in [db, *companions]}
        assert mode(db.parent) == 0o700
    finally:
        engine.dispose()


def test_an_existing_world_readable_database_is_tightened(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    make_engine(f"sqlite:///{db}").dispose()
    db.chmod(0o644)
    make_engine(f"sqlite:///{db}").dispose()
    assert mode(db) == 0o600


def test_a_recording_is_0600_in_a_0700_folder(tmp_path: Path) -> None:
    from voice_agent.pipeline.recording import StreamingWav

    wav = tmp_path / "recordings" / "call.wav"
    recording = StreamingWav(wav, sample_rate=8000)
    assert mode(wav) == 0o600 and mode(wav.parent) == 0o700  # from its first byte
    recording.write(b"\x00\x00" * 320)
    recording.close()
    assert mode(wav) == 0o600
    assert wav.read_bytes()[:4] == b"RIFF"


def test_the_dev_key_and_its_data_folder_are_private(tmp_path: Path) -> None:
    from voice_agent.config import Settings
    from voice_agent.store.secret_box import DEV_KEY_FILE, secret_box_for

    data = tmp_path / "var"
    secret_box_for(Settings(_env_file=None, env="dev", data_dir=data))
    assert mode(data) == 0o700 and mode(data / DEV_KEY_FILE) == 0o600
