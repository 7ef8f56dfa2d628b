"""``voice-agent db upgrade`` (the Helm migration Job's command) and ``db current``."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from voice_agent.cli import app


def test_db_upgrade_then_current(tmp_path: Path) -> None:
    runner = CliRunner()
    url = f"sqlite:///{tmp_path / 'agent.db'}"
    before = runner.invoke(app, ["db", "current", "--database-url", url])
    assert before.exit_code == 0, before.output
    assert before.output.strip() == "none"
    for _ in range(2):  # a second run (the next helm upgrade) is a no-op
        done = runner.invoke(app, ["db", "upgrade", "--database-url", url])
        assert done.exit_code == 0, done.output
        assert "revision 0002" in done.output
    after = runner.invoke(app, ["db", "current", "--database-url", url])
    assert after.output.strip() == "0002"
