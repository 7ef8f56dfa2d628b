"""``voice-agent purge --older-than DAYS``: old recordings and transcripts go, recent ones and
anything a reviewer still needs stay; the call rows and bookings stay."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from rich.console import Console
from sqlmodel import Session, select
from typer.testing import CliRunner

from voice_agent.cli import app
from voice_agent.cli import retention as cli_retention
from voice_agent.config import get_settings
from voice_agent.store.db import make_engine, upgrade
from voice_agent.store.models import BookingIntent, Call, Turn, utcnow
from voice_agent.store.review import create_review_item


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("VOICE_AGENT_DATA_DIR", str(tmp_path))
    for name in ("VOICE_AGENT_ENV", "VOICE_AGENT_DATABASE_URL", "DATABASE_URL",
                 "VOICE_AGENT_RECORDINGS_RETENTION_DAYS",
                 "VOICE_AGENT_TRANSCRIPTS_RETENTION_DAYS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli_retention, "console", Console(width=200, color_system=None))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def seed(data: Path) -> dict[str, str]:
    """Calls 40, 20 and 1 day old, each with a recording and two turns; the 40-day-old
    review call's booking still waits for a reviewer."""
    engine = make_engine(f"sqlite:///{data}/voice_agent.db")
    upgrade(engine)
    recordings = data / "recordings"
    recordings.mkdir()
    ids = {}
    with Session(engine) as session:
        for label, days in (("old", 40), ("review", 40), ("middle", 20), ("new", 1)):
            call = Call(business="demo-salon", caller_phone="+15550001111",
                        started_at=utcnow() - timedelta(days=days))
            wav = recordings / f"{call.id}.wav"
            wav.write_bytes(b"RIFF....WAVE")
            call.recording_path = str(wav)
            session.add(call)
            session.flush()
            session.add_all([Turn(call_id=call.id, index=i, caller_text="my number is "
                                  "555 000 1111", agent_text="ok") for i in range(2)])
            ids[label] = call.id
        session.commit()
    intent = BookingIntent(idempotency_key="k-review", business="demo-salon",
                           call_id=ids["review"], payload={"name": "Dana"})
    create_review_item(engine, intent=intent, call_id=ids["review"], business="demo-salon",
                       reason="low confidence", confidence={})
    stray = recordings / "crashed-call.wav"  # no call row points at it
    stray.write_bytes(b"RIFF")
    old = time.time() - 40 * 86400
    os.utime(stray, (old, old))
    engine.dispose()
    return ids


def state(data: Path) -> dict[str, tuple[bool, int, bool]]:
    """call id -> (recording file exists, turns, call row has a recording path)."""
    engine = make_engine(f"sqlite:///{data}/voice_agent.db")
    with Session(engine) as session:
        out = {}
        for call in session.exec(select(Call)):
            turns = len(session.exec(select(Turn).where(Turn.call_id == call.id)).all())
            wav = data / "recordings" / f"{call.id}.wav"
            out[call.id] = (wav.exists(), turns, call.recording_path is not None)
    engine.dispose()
    return out


def test_purge_older_than_deletes_only_what_is_older(env: Path) -> None:
    ids = seed(env)
    runner = CliRunner()
    dry = runner.invoke(app, ["purge", "--older-than", "30", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would delete 1 recordings (+1 unreferenced files), 2 transcript rows" in dry.output
    assert all(v == (True, 2, True) for v in state(env).values())  # a dry run touches nothing

    result = runner.invoke(app, ["purge", "--older-than", "30"])
    assert result.exit_code == 0, result.output
    assert "deleted 1 recordings (+1 unreferenced files), 2 transcript rows; 1 calls kept " \
           "for review" in result.output
    after = state(env)
    assert after[ids["old"]] == (False, 0, False)
    assert after[ids["review"]] == (True, 2, True)  # the reviewer still needs it
    assert after[ids["middle"]] == (True, 2, True)
    assert after[ids["new"]] == (True, 2, True)
    assert not (env / "recordings" / "crashed-call.wav").exists()
    assert len(after) == 4  # call rows stay

    result = runner.invoke(app, ["purge", "--older-than", "10"])
    assert "deleted 1 recordings (+0 unreferenced files), 2 transcript rows" in result.output
    assert state(env)[ids["middle"]] == (False, 0, False)
    assert state(env)[ids["new"]] == (True, 2, True)


def test_purge_uses_each_retention_setting(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = seed(env)
    monkeypatch.setenv("VOICE_AGENT_RECORDINGS_RETENTION_DAYS", "10")  # audio: short
    monkeypatch.setenv("VOICE_AGENT_TRANSCRIPTS_RETENTION_DAYS", "30")  # text: longer
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["purge"])
    assert result.exit_code == 0, result.output
    after = state(env)
    assert after[ids["old"]] == (False, 0, False)
    assert after[ids["middle"]] == (False, 2, False)  # recording gone, transcript kept
    assert after[ids["new"]] == (True, 2, True)


def test_purge_without_a_period_refuses(env: Path) -> None:
    result = CliRunner().invoke(app, ["purge"])
    assert result.exit_code == 2 and "nothing to purge" in result.output


def test_a_recording_path_outside_the_recordings_dir_is_never_deleted(env: Path) -> None:
    ids = seed(env)
    outside = env / "elsewhere.wav"
    outside.write_bytes(b"RIFF")
    engine = make_engine(f"sqlite:///{env}/voice_agent.db")
    with Session(engine) as session:
        call = session.get(Call, ids["old"])
        assert call is not None
        call.recording_path = str(outside)
        session.add(call)
        session.commit()
    engine.dispose()
    CliRunner().invoke(app, ["purge", "--older-than", "30"])
    assert outside.exists()


async def test_the_server_applies_the_retention_settings(env: Path) -> None:
    """``serve`` purges at start and daily when a retention period is set."""
    from voice_agent.config import Settings
    from voice_agent.runtime.container import Runtime

    ids = seed(env)
    runtime = Runtime(Settings(_env_file=None, data_dir=env, recordings_retention_days=30))
    runtime.engine = make_engine(f"sqlite:///{env}/voice_agent.db")
    try:
        report = await runtime.purge_expired()
    finally:
        runtime.engine.dispose()
    assert (report.recordings_deleted, report.transcript_rows_deleted) == (1, 0)
    assert state(env)[ids["old"]] == (False, 2, False)  # transcripts: no period set, kept
