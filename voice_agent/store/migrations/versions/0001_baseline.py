"""Baseline: the schema of the previous release (eadd1d6), as its ``create_all`` made it.

The tables are written out here, frozen, instead of taken from the models: the models move on,
this revision must not. ``schema()`` is also what a database from before Alembic is completed
to when it is adopted (``voice_agent.store.migrations.adopt``).

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import CreateIndex, CreateTable

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

AWARE = sa.DateTime(timezone=True)  # the models' datetimes (sqlmodel's UTCDateTime)
NAIVE = sa.DateTime()  # the embedded calendar's (naive UTC, connectors/sql.py)


def schema() -> sa.MetaData:
    """Every table of release eadd1d6 with its constraints and indexes."""
    metadata = sa.MetaData()
    sa.Table(
        "api_token", metadata,
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", AWARE, nullable=False),
        sa.Column("revoked_at", AWARE, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sa.UniqueConstraint("token_hash"),
    )
    sa.Table(
        "audit_log", metadata,
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("at", AWARE, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.Index("ix_audit_log_actor", "actor"),
        sa.Index("ix_audit_log_target", "target"),
    )
    sa.Table(
        "cal_appointment", metadata,
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("business", sa.String(100), nullable=False),
        sa.Column("service", sa.String(100), nullable=False),
        sa.Column("staff", sa.String(200), nullable=False),
        sa.Column("start_utc", NAIVE, nullable=False),
        sa.Column("end_utc", NAIVE, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("phone", sa.String(50), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("created_at", NAIVE, nullable=False),
        sa.Column("updated_at", NAIVE, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("business", "idempotency_key", name="uq_cal_appointment_idempotency"),
        sa.Index("ix_cal_appointment_business", "business"),
        sa.Index("ix_cal_appointment_phone", "phone"),
        sa.Index("ix_cal_appointment_start_utc", "start_utc"),
    )
    sa.Table(
        "call", metadata,
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("provider_call_id", sa.String(), nullable=True),
        sa.Column("stream_id", sa.String(), nullable=True),
        sa.Column("business", sa.String(), nullable=False),
        sa.Column("caller_phone", sa.String(), nullable=True),
        sa.Column("caller_attestation", sa.String(), nullable=True),
        sa.Column("started_at", AWARE, nullable=False),
        sa.Column("ended_at", AWARE, nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("end_reason", sa.String(), nullable=True),
        sa.Column("outcome", sa.String(), nullable=True),
        sa.Column("recording_path", sa.String(), nullable=True),
        sa.Column("prompt_version", sa.String(), nullable=True),
        sa.Column("clock_now", AWARE, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.Index("ix_call_business", "business"),
        sa.Index("ix_call_provider_call_id", "provider_call_id"),
    )
    sa.Table(
        "connector_config", metadata,
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("business", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=True),
        sa.Column("secrets_encrypted", sa.String(), nullable=True),
        sa.Column("secret_names", sa.JSON(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", AWARE, nullable=False),
        sa.Column("updated_at", AWARE, nullable=False),
        sa.Column("updated_by", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("business"),
    )
    sa.Table(
        "booking_intent", metadata,
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("idempotency_key", sa.String(), nullable=False),
        sa.Column("call_id", sa.String(), nullable=True),
        sa.Column("business", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("booking_id", sa.String(), nullable=True),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", AWARE, nullable=False),
        sa.Column("updated_at", AWARE, nullable=False),
        sa.ForeignKeyConstraint(["call_id"], ["call.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
        sa.Index("ix_booking_intent_call_id", "call_id"),
        sa.Index("ix_booking_intent_status", "status"),
    )
    sa.Table(
        "cal_staff_cell", metadata,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business", sa.String(100), nullable=False),
        sa.Column("staff", sa.String(200), nullable=False),
        sa.Column("cell_start_utc", NAIVE, nullable=False),
        sa.Column("appointment_id", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["appointment_id"], ["cal_appointment.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("business", "staff", "cell_start_utc", name="uq_cal_staff_cell"),
        sa.Index("ix_cal_staff_cell_appointment_id", "appointment_id"),
    )
    sa.Table(
        "turn", metadata,
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("call_id", sa.String(), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("caller_text", sa.String(), nullable=True),
        sa.Column("stt_avg_logprob", sa.Float(), nullable=True),
        sa.Column("stt_no_speech_prob", sa.Float(), nullable=True),
        sa.Column("agent_text", sa.String(), nullable=True),
        sa.Column("llm_messages", sa.JSON(), nullable=True),
        sa.Column("tool_calls", sa.JSON(), nullable=True),
        sa.Column("policy_events", sa.JSON(), nullable=True),
        sa.Column("prompt_hash", sa.String(), nullable=True),
        sa.Column("speech_end_ts", sa.Float(), nullable=True),
        sa.Column("stt_done_ts", sa.Float(), nullable=True),
        sa.Column("turn_end_ts", sa.Float(), nullable=True),
        sa.Column("llm_first_token_ts", sa.Float(), nullable=True),
        sa.Column("tts_first_audio_ts", sa.Float(), nullable=True),
        sa.Column("first_audio_sent_ts", sa.Float(), nullable=True),
        sa.Column("created_at", AWARE, nullable=False),
        sa.ForeignKeyConstraint(["call_id"], ["call.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("call_id", "index"),
        sa.Index("ix_turn_call_id", "call_id"),
    )
    sa.Table(
        "review_item", metadata,
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("call_id", sa.String(), nullable=True),
        sa.Column("intent_id", sa.String(), nullable=False),
        sa.Column("business", sa.String(100), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("confidence", sa.JSON(), nullable=True),
        sa.Column("decided_by", sa.String(), nullable=True),
        sa.Column("decided_at", AWARE, nullable=True),
        sa.Column("decision_note", sa.String(), nullable=True),
        sa.Column("booking_id", sa.String(), nullable=True),
        sa.Column("created_at", AWARE, nullable=False),
        sa.ForeignKeyConstraint(["call_id"], ["call.id"]),
        sa.ForeignKeyConstraint(["intent_id"], ["booking_intent.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("intent_id"),
        sa.Index("ix_review_item_business", "business"),
        sa.Index("ix_review_item_call_id", "call_id"),
        sa.Index("ix_review_item_created_at", "created_at"),
        sa.Index("ix_review_item_status", "status"),
    )
    return metadata


def upgrade() -> None:
    for table in schema().sorted_tables:  # DDL elements: also rendered by ``--sql``
        op.execute(CreateTable(table))
        for index in sorted(table.indexes, key=lambda i: i.name or ""):
            op.execute(CreateIndex(index))


def downgrade() -> None:
    for table in reversed(schema().sorted_tables):
        op.drop_table(table.name)
