"""The human review queue for uncertain bookings, its API tokens and the audit trail.

A booking the agent is not sure about (low STT confidence, a disagreeing LLM) is not sent to
the calendar: its outbox intent is parked with status ``review`` and a :class:`ReviewItem`
points at it. A reviewer, authenticated by an :class:`ApiToken`, approves it (booking it
through the connector) or rejects it; every decision is written to :class:`AuditLog`.

Tokens are stored only as their sha256; the plaintext is shown once, when it is created.
All functions are blocking; async callers wrap them in :func:`asyncio.to_thread`.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Engine, func, update
from sqlmodel import Field, Session, SQLModel, col, select

from voice_agent.store.models import BookingIntent, Call, Turn, new_id, utcnow

__all__ = [
    "ROLES",
    "ApiToken",
    "AuditLog",
    "NotPendingError",
    "ReviewItem",
    "approve_item",
    "as_utc",
    "create_review_item",
    "create_token",
    "get_review_item",
    "hash_token",
    "list_review_items",
    "list_tokens",
    "record_audit",
    "reject_item",
    "review_context",
    "revoke_token",
    "verify_token",
]

ROLES = ("admin", "reviewer", "metrics")  # metrics: may only scrape /metrics
STATUSES = ("pending", "approved", "rejected")
TOKEN_PREFIX = "va_"
MAX_TOKEN_CHARS = 200  # anything longer is not one of ours; never hash unbounded input


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: str = Field(default_factory=new_id, primary_key=True)
    name: str = Field(unique=True, max_length=100)  # unique: audit rows name one token
    role: str = Field(max_length=20)  # admin | reviewer
    token_hash: str = Field(unique=True, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


class ReviewItem(SQLModel, table=True):
    __tablename__ = "review_item"

    id: str = Field(default_factory=new_id, primary_key=True)
    call_id: str | None = Field(default=None, foreign_key="call.id", index=True)
    intent_id: str = Field(foreign_key="booking_intent.id", unique=True)
    business: str = Field(index=True, max_length=100)
    status: str = Field(default="pending", index=True, max_length=20)  # see STATUSES
    reason: str = Field(max_length=500)
    confidence: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_note: str | None = None
    booking_id: str | None = None
    created_at: datetime = Field(default_factory=utcnow, index=True)


class AuditLog(SQLModel, table=True):
    __tablename__ = "audit_log"

    id: str = Field(default_factory=new_id, primary_key=True)
    actor: str = Field(index=True, max_length=100)
    action: str = Field(max_length=50)
    target: str = Field(index=True, max_length=200)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    at: datetime = Field(default_factory=utcnow)


class NotPendingError(Exception):
    """The review item was decided already (possibly a moment ago, by someone else)."""

    def __init__(self, item: ReviewItem) -> None:
        super().__init__(f"review item {item.id} is already {item.status}")
        self.item = item


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive (stored as UTC); PostgreSQL keeps them aware."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


# -- tokens ----------------------------------------------------------------------------------


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(engine: Engine, *, name: str, role: str) -> str:
    """Store a new token and return its plaintext, which is never stored nor shown again.

    ``ValueError`` for an unknown role, a blank name or a name already used (even revoked).
    """
    name = name.strip()
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r} (use {' or '.join(ROLES)})")
    if not 1 <= len(name) <= 100:
        raise ValueError("a token name needs 1 to 100 characters")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with Session(engine) as session:
        if session.exec(select(ApiToken).where(ApiToken.name == name)).first() is not None:
            raise ValueError(f"a token named {name!r} exists already")
        session.add(ApiToken(name=name, role=role, token_hash=hash_token(token)))
        session.commit()
    return token


def verify_token(engine: Engine, token: str) -> ApiToken | None:
    """The active token with this plaintext; None when unknown or revoked."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    with Session(engine, expire_on_commit=False) as session:
        stmt = select(ApiToken).where(
            ApiToken.token_hash == hash_token(token), col(ApiToken.revoked_at).is_(None)
        )
        return session.exec(stmt).first()


def list_tokens(engine: Engine) -> list[ApiToken]:
    with Session(engine, expire_on_commit=False) as session:
        return list(session.exec(select(ApiToken).order_by(col(ApiToken.created_at))))


def revoke_token(engine: Engine, name: str) -> bool:
    """Revoke the named token; False when there is no active token of that name."""
    with Session(engine) as session:
        result = session.exec(
            update(ApiToken)
            .where(col(ApiToken.name) == name, col(ApiToken.revoked_at).is_(None))
            .values(revoked_at=utcnow())
        )
        session.commit()
        return result.rowcount == 1


# -- review items ----------------------------------------------------------------------------


def create_review_item(
    engine: Engine, *, intent: BookingIntent, call_id: str | None, business: str, reason: str,
    confidence: dict[str, Any],
) -> ReviewItem:
    """Park a booking intent for review: the intent (status ``review``) and the item are
    committed together, so there is never an item without its intent or the reverse."""
    if intent.action != "book":
        raise ValueError(f"only booking intents can be reviewed, not {intent.action!r}")
    intent.status = "review"
    intent.updated_at = utcnow()
    item = ReviewItem(call_id=call_id, intent_id=intent.id, business=business,
                      reason=reason[:500], confidence=dict(confidence))
    with Session(engine, expire_on_commit=False) as session:
        session.merge(intent)
        session.add(item)
        session.commit()
    return item


def list_review_items(
    engine: Engine, *, status: str | None, business: str | None, limit: int, offset: int,
) -> tuple[list[ReviewItem], int]:
    """One page of items, oldest first, and the number of items matching the filter."""
    filters = []
    if status is not None:
        filters.append(col(ReviewItem.status) == status)
    if business is not None:
        filters.append(col(ReviewItem.business) == business)
    with Session(engine, expire_on_commit=False) as session:
        total = session.exec(select(func.count()).select_from(ReviewItem).where(*filters)).one()
        stmt = (
            select(ReviewItem).where(*filters)
            .order_by(col(ReviewItem.created_at), col(ReviewItem.id)).offset(offset).limit(limit)
        )
        return list(session.exec(stmt)), total


def get_review_item(engine: Engine, item_id: str) -> ReviewItem | None:
    with Session(engine, expire_on_commit=False) as session:
        return session.get(ReviewItem, item_id)


def review_context(
    engine: Engine, item: ReviewItem
) -> tuple[BookingIntent | None, Call | None, list[Turn]]:
    """The item's booking intent, its call and the call's turns (in order)."""
    with Session(engine, expire_on_commit=False) as session:
        intent = session.get(BookingIntent, item.intent_id)
        if item.call_id is None:
            return intent, None, []
        call = session.get(Call, item.call_id)
        stmt = select(Turn).where(Turn.call_id == item.call_id).order_by(col(Turn.index))
        return intent, call, list(session.exec(stmt))


def record_audit(engine: Engine, *, actor: str, action: str, target: str,
                 detail: dict[str, Any]) -> None:
    with Session(engine) as session:
        session.add(AuditLog(actor=actor, action=action, target=target, detail=detail))
        session.commit()


def _decide(
    session: Session, item_id: str, *, status: str, actor: str, note: str | None,
    booking_id: str | None = None,
) -> ReviewItem:
    """Move a pending item to ``status``; a conditional update, so of two reviewers deciding
    at once exactly one wins and the other gets :class:`NotPendingError`."""
    result = session.exec(
        update(ReviewItem)
        .where(col(ReviewItem.id) == item_id, col(ReviewItem.status) == "pending")
        .values(status=status, decided_by=actor, decided_at=utcnow(), decision_note=note,
                booking_id=booking_id)
    )
    if result.rowcount != 1:
        session.rollback()
        current = session.get(ReviewItem, item_id)
        if current is None:
            raise KeyError(item_id)
        raise NotPendingError(current)
    item = session.get(ReviewItem, item_id, populate_existing=True)
    assert item is not None
    return item


def approve_item(
    engine: Engine, *, item_id: str, actor: str, payload: dict[str, Any], booking_id: str,
    edits: dict[str, dict[str, Any]], note: str | None,
) -> ReviewItem:
    """Record a booking made for an item: item approved, intent done (with the edited
    payload), audit rows for the edits and the approval, all in one transaction."""
    target = f"review_item:{item_id}"
    with Session(engine, expire_on_commit=False) as session:
        item = _decide(session, item_id, status="approved", actor=actor, note=note,
                       booking_id=booking_id)
        intent = session.get(BookingIntent, item.intent_id)
        assert intent is not None
        intent.payload = payload
        intent.status, intent.booking_id, intent.error = "done", booking_id, None
        intent.attempts += 1
        intent.updated_at = utcnow()
        session.add(intent)
        if edits:
            session.add(AuditLog(actor=actor, action="edit", target=target,
                                 detail={"intent_id": intent.id, "changes": edits}))
        session.add(AuditLog(actor=actor, action="approve", target=target,
                             detail={"intent_id": intent.id, "booking_id": booking_id,
                                     "note": note}))
        session.commit()
        return item


def reject_item(engine: Engine, *, item_id: str, actor: str, reason: str) -> ReviewItem:
    """Item rejected, intent ``rejected``, one audit row; one transaction."""
    with Session(engine, expire_on_commit=False) as session:
        item = _decide(session, item_id, status="rejected", actor=actor, note=reason)
        intent = session.get(BookingIntent, item.intent_id)
        assert intent is not None
        intent.status, intent.error = "rejected", None
        intent.updated_at = utcnow()
        session.add(intent)
        session.add(AuditLog(actor=actor, action="reject", target=f"review_item:{item_id}",
                             detail={"intent_id": intent.id, "reason": reason}))
        session.commit()
        return item
