"""Tables for calls, their turns and booking intents (the outbox).

Each turn is written when it ends, so a crash mid-call loses at most the turn in flight.
Datetimes are aware UTC; per-stage timestamps are wall-clock seconds (``time.time()``)
so stage latencies are simple differences.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class Call(SQLModel, table=True):
    __tablename__ = "call"

    id: str = Field(default_factory=new_id, primary_key=True)
    provider: str = "twilio"
    provider_call_id: str | None = Field(default=None, index=True)
    stream_id: str | None = None
    business: str = Field(index=True)
    caller_phone: str | None = None
    # Twilio's StirVerstat: how far the carrier vouches for the caller ID (STIR/SHAKEN)
    caller_attestation: str | None = None
    started_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime | None = None
    status: str = "in_progress"  # in_progress | completed | failed
    end_reason: str | None = None
    outcome: str | None = None  # booked | rescheduled | cancelled | no_booking | transferred
    recording_path: str | None = None
    prompt_version: str | None = None
    clock_now: datetime | None = None  # pinned "now" (evals); None = real clock


class Turn(SQLModel, table=True):
    __tablename__ = "turn"
    __table_args__ = (UniqueConstraint("call_id", "index"),)

    id: str = Field(default_factory=new_id, primary_key=True)
    call_id: str = Field(foreign_key="call.id", index=True)
    index: int
    caller_text: str | None = None
    stt_avg_logprob: float | None = None
    stt_no_speech_prob: float | None = None
    # per VAD segment: log-prob, no-speech prob, seconds, whether the listening prompt was kept
    stt_segments: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    agent_text: str | None = None
    # barge-in: the caller cut this reply short; what they heard of it (Twilio marks echoed)
    agent_interrupted: bool | None = None
    agent_text_heard: str | None = None
    llm_messages: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    tool_calls: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    policy_events: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    prompt_hash: str | None = None
    # per-stage wall-clock timestamps (unix seconds)
    speech_end_ts: float | None = None
    stt_done_ts: float | None = None
    turn_end_ts: float | None = None
    llm_first_token_ts: float | None = None
    tts_first_audio_ts: float | None = None
    first_audio_sent_ts: float | None = None
    created_at: datetime = Field(default_factory=utcnow)


class BookingIntent(SQLModel, table=True):
    """Outbox row: written before the connector is called, finished after."""

    __tablename__ = "booking_intent"

    id: str = Field(default_factory=new_id, primary_key=True)
    idempotency_key: str = Field(unique=True)
    call_id: str | None = Field(default=None, foreign_key="call.id", index=True)
    business: str
    action: str = "book"  # book | cancel | reschedule
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    # pending | reconciling (leased) | done | failed | review | escalated | callback | ...
    status: str = Field(default="pending", index=True)
    booking_id: str | None = None
    error: str | None = None
    attempts: int = 0
    # While ``reconciling``: who holds the intent and until when. A worker that dies holding
    # it leaves the lease to expire; another worker then reclaims the intent.
    lease_owner: str | None = None
    lease_until: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
