"""``voice-agent purge``: delete recordings and transcripts past their retention."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer
from rich.console import Console

from voice_agent.config import get_settings

console = Console()


def purge(
    older_than: Annotated[int | None, typer.Option(
        "--older-than", min=1, metavar="DAYS",
        help="Delete recordings and transcripts of calls older than DAYS days (default: the "
             "retention settings, each kind its own).")] = None,
    dry_run: Annotated[bool, typer.Option(help="Only count what would be deleted.")] = False,
    database_url: Annotated[str | None, typer.Option(
        help="SQLAlchemy URL (default: settings).")] = None,
) -> None:
    """Delete call recordings and transcript rows older than the retention period.

    Call rows (time, business, outcome) and booking intents are kept; calls whose booking
    waits in the review queue are kept whole.
    """
    from voice_agent.store.db import make_engine, upgrade
    from voice_agent.store.models import utcnow
    from voice_agent.store.retention import purge as run_purge

    settings = get_settings()
    recordings_days = older_than or settings.recordings_retention_days
    transcripts_days = older_than or settings.transcripts_retention_days
    if recordings_days is None and transcripts_days is None:
        console.print("[red]nothing to purge:[/red] give --older-than DAYS or set "
                      "VOICE_AGENT_RECORDINGS_RETENTION_DAYS / "
                      "VOICE_AGENT_TRANSCRIPTS_RETENTION_DAYS")
        raise typer.Exit(2)
    now = utcnow()
    engine = make_engine(database_url or settings.db_url)
    try:
        upgrade(engine)
        report = run_purge(
            engine, settings.recordings_dir,
            recordings_before=now - timedelta(days=recordings_days) if recordings_days
            else None,
            transcripts_before=now - timedelta(days=transcripts_days) if transcripts_days
            else None,
            dry_run=dry_run)
    finally:
        engine.dispose()
    verb = "would delete" if dry_run else "deleted"
    console.print(f"{verb} {report.recordings_deleted} recordings "
                  f"(+{report.orphan_files_deleted} unreferenced files), "
                  f"{report.transcript_rows_deleted} transcript rows; "
                  f"{report.calls_kept_for_review} calls kept for review")
