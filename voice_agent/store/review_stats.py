"""Counts of the review queue by status, for the ``voice_agent_review_items`` gauge."""

from __future__ import annotations

from sqlalchemy import Engine, func
from sqlmodel import Session, select

from voice_agent.store.review import ReviewItem


def review_counts(engine: Engine) -> dict[str, int]:
    """``{status: items}`` in one indexed GROUP BY (status is indexed)."""
    with Session(engine) as session:
        rows = session.exec(select(ReviewItem.status, func.count()).group_by(ReviewItem.status))
        return {status: int(count) for status, count in rows}
