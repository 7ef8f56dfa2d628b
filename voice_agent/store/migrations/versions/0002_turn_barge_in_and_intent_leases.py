"""Since the baseline: turn STT segments and barge-in (``stt_segments``, ``agent_interrupted``,
``agent_text_heard``) and the outbox's reconciler leases (``booking_intent.lease_owner``,
``lease_until``). All nullable, so rows of the previous release stay valid as they are.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def columns() -> dict[str, list[sa.Column]]:
    """The columns this revision adds, by table (fresh objects on every call)."""
    return {
        "turn": [
            sa.Column("stt_segments", sa.JSON(), nullable=True),
            sa.Column("agent_interrupted", sa.Boolean(), nullable=True),
            sa.Column("agent_text_heard", sa.String(), nullable=True),
        ],
        "booking_intent": [
            sa.Column("lease_owner", sa.String(), nullable=True),
            sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        ],
    }


def upgrade() -> None:
    for table, added in columns().items():
        with op.batch_alter_table(table) as batch:
            for column in added:
                batch.add_column(column)


def downgrade() -> None:
    for table, added in columns().items():
        with op.batch_alter_table(table) as batch:
            for column in reversed(added):
                batch.drop_column(column.name)
