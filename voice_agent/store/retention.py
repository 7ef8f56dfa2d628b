"""Retention: delete call recordings and transcripts older than the deployment keeps them.

A *recording* is the call's WAV in the recordings directory; a *transcript* is the call's
turn rows (what the caller and the agent said, the LLM messages, tool calls). Age is the
call's start. The call row itself (when, which business, the outcome) and the booking
intents stay: they are the business record, not the conversation.

A call whose booking is still waiting in the review queue keeps both: the reviewer needs
them to decide. Only files inside the recordings directory are ever deleted; WAV files
there that no call row points at (a crash before the row was updated) are deleted by their
modification time. Blocking; async callers wrap it in :func:`asyncio.to_thread`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, delete, true, update
from sqlmodel import Session, col, select

from voice_agent.store.models import Call, Turn
from voice_agent.store.review import ReviewItem

__all__ = ["PurgeReport", "purge"]

log = logging.getLogger(__name__)
_RECORDING_SUFFIXES = (".wav", ".pcm", ".partial")


@dataclass
class PurgeReport:
    recordings_deleted: int = 0
    orphan_files_deleted: int = 0
    transcript_rows_deleted: int = 0
    calls_kept_for_review: int = 0


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def _under_review(session: Session) -> set[str]:
    return {c for c in session.exec(
        select(ReviewItem.call_id).where(col(ReviewItem.status) == "pending")) if c}


def purge(engine: Engine, recordings_dir: Path, *, recordings_before: datetime | None,
          transcripts_before: datetime | None, dry_run: bool = False) -> PurgeReport:
    """Delete recordings of calls started before ``recordings_before`` and turn rows of
    calls started before ``transcripts_before`` (None: keep that kind)."""
    report = PurgeReport()
    cutoffs = [c for c in (recordings_before, transcripts_before) if c is not None]
    with Session(engine) as session:
        held = _under_review(session)
        if cutoffs and held:
            report.calls_kept_for_review = len(session.exec(select(Call.id).where(
                col(Call.started_at) < max(cutoffs), col(Call.id).in_(held))).all())
        if recordings_before is not None:
            calls = session.exec(select(Call).where(
                col(Call.started_at) < recordings_before, col(Call.recording_path).is_not(None),
                col(Call.id).not_in(held) if held else true()))
            for call in list(calls):
                path = Path(call.recording_path or "")
                if _inside(path, recordings_dir):
                    if not dry_run:
                        path.unlink(missing_ok=True)
                    report.recordings_deleted += 1
                if not dry_run:
                    session.exec(update(Call).where(  # type: ignore[call-overload]
                        col(Call.id) == call.id).values(recording_path=None))
            report.orphan_files_deleted = _orphans(session, recordings_dir, recordings_before,
                                                   dry_run)
        if transcripts_before is not None:
            ids = list(session.exec(select(Call.id).where(
                col(Call.started_at) < transcripts_before,
                col(Call.id).not_in(held) if held else true())))
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                rows = session.exec(select(Turn.id).where(col(Turn.call_id).in_(chunk))).all()
                report.transcript_rows_deleted += len(rows)
                if not dry_run:
                    session.exec(delete(Turn).where(  # type: ignore[call-overload]
                        col(Turn.call_id).in_(chunk)))
        if not dry_run:
            session.commit()
    log.info("retention purge%s: %d recordings, %d orphan files, %d transcript rows; %d calls "
             "kept for review", " (dry run)" if dry_run else "", report.recordings_deleted,
             report.orphan_files_deleted, report.transcript_rows_deleted,
             report.calls_kept_for_review)
    return report


def _orphans(session: Session, recordings_dir: Path, before: datetime, dry_run: bool) -> int:
    """Recording files older than ``before`` that no call row references."""
    if not recordings_dir.is_dir():
        return 0
    referenced = {str(Path(p).resolve()) for p in session.exec(
        select(Call.recording_path).where(col(Call.recording_path).is_not(None))) if p}
    cutoff = before.timestamp() if before.tzinfo else time.mktime(before.timetuple())
    deleted = 0
    for path in recordings_dir.iterdir():
        if (path.is_file() and path.suffix in _RECORDING_SUFFIXES
                and str(path.resolve()) not in referenced and path.stat().st_mtime < cutoff):
            if not dry_run:
                path.unlink(missing_ok=True)
            deleted += 1
    return deleted
