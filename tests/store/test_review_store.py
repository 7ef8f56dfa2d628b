"""Review queue store: API tokens, review items and the audit log, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from voice_agent.store.db import make_engine, upgrade
from voice_agent.store.models import BookingIntent, Call, new_id
from voice_agent.store.review import (
    ApiToken,
    AuditLog,
    NotPendingError,
    ReviewItem,
    approve_item,
    create_review_item,
    create_token,
    get_review_item,
    hash_token,
    list_review_items,
    list_tokens,
    reject_item,
    review_context,
    revoke_token,
    verify_token,
)

PAYLOAD = {"service": "haircut", "start": "2030-01-07T10:00:00-05:00", "name": "Ann Lee",
           "phone": "+14155550123"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request, tmp_path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path}/review.db" if request.param == "sqlite" else (
        request.getfixturevalue("pg_url"))
    eng = make_engine(url)
    upgrade(eng)
    upgrade(eng)  # idempotent
    yield eng
    eng.dispose()


def make_intent(engine: Engine, *, call_id: str | None = None, business: str = "demo-salon",
                action: str = "book", key: str | None = None) -> BookingIntent:
    intent = BookingIntent(idempotency_key=key or f"va-{new_id()}",
                           business=business, call_id=call_id, action=action,
                           payload=dict(PAYLOAD))
    with Session(engine, expire_on_commit=False) as session:
        session.add(intent)
        session.commit()
    return intent


def make_item(engine: Engine, *, business: str = "demo-salon", call_id: str | None = None,
              reason: str = "low STT confidence") -> ReviewItem:
    intent = make_intent(engine, business=business, call_id=call_id, key=None)
    return create_review_item(engine, intent=intent, call_id=call_id, business=business,
                              reason=reason, confidence={"stt_avg_logprob": -1.2})


def stored_intent(engine: Engine, intent_id: str) -> BookingIntent:
    with Session(engine) as session:
        intent = session.get(BookingIntent, intent_id)
        assert intent is not None
        return intent


def audit_rows(engine: Engine) -> list[AuditLog]:
    with Session(engine) as session:
        return list(session.exec(select(AuditLog).order_by(AuditLog.at)))


# -- tokens ----------------------------------------------------------------------------------


def test_token_is_returned_once_and_stored_hashed(engine: Engine) -> None:
    token = create_token(engine, name="alice", role="reviewer")
    assert token.startswith("va_") and len(token) > 40
    [row] = list_tokens(engine)
    assert (row.name, row.role, row.revoked_at) == ("alice", "reviewer", None)
    assert row.token_hash == hash_token(token) and len(row.token_hash) == 64
    with engine.connect() as conn:  # the plaintext is nowhere in the table
        dump = repr(conn.execute(sa.text("SELECT * FROM api_token")).all())
    assert token not in dump

    found = verify_token(engine, token)
    assert found is not None and found.name == "alice"
    assert create_token(engine, name="bob", role="admin") != token


@pytest.mark.parametrize("bad", ["", "va_nope", "x" * 10_000])
def test_unknown_tokens_do_not_verify(engine: Engine, bad: str) -> None:
    create_token(engine, name="alice", role="reviewer")
    assert verify_token(engine, bad) is None


def test_revoked_token_no_longer_verifies(engine: Engine) -> None:
    token = create_token(engine, name="alice", role="admin")
    assert revoke_token(engine, "alice") is True
    assert verify_token(engine, token) is None
    assert revoke_token(engine, "alice") is False  # already revoked
    assert revoke_token(engine, "nobody") is False
    [row] = list_tokens(engine)
    assert row.revoked_at is not None


@pytest.mark.parametrize(("name", "role"), [("carol", "owner"), ("  ", "reviewer"),
                                            ("x" * 101, "admin")])
def test_create_token_validates(engine: Engine, name: str, role: str) -> None:
    with pytest.raises(ValueError):
        create_token(engine, name=name, role=role)
    assert list_tokens(engine) == []


def test_token_names_are_unique_even_after_revocation(engine: Engine) -> None:
    create_token(engine, name="alice", role="reviewer")
    revoke_token(engine, "alice")
    with pytest.raises(ValueError, match="exists already"):
        create_token(engine, name="alice", role="reviewer")


# -- review items ----------------------------------------------------------------------------


def test_create_review_item_parks_the_intent(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as session:
        call = Call(business="demo-salon")
        session.add(call)
        session.commit()
    intent = make_intent(engine, call_id=call.id)
    item = create_review_item(engine, intent=intent, call_id=call.id, business="demo-salon",
                              reason="low STT confidence", confidence={"score": 0.3})
    assert intent.status == "review"
    assert stored_intent(engine, intent.id).status == "review"
    stored = get_review_item(engine, item.id)
    assert stored is not None
    assert (stored.status, stored.intent_id, stored.call_id, stored.confidence) == (
        "pending", intent.id, call.id, {"score": 0.3})
    got_intent, got_call, turns = review_context(engine, stored)
    assert (got_intent.id, got_call.id, turns) == (intent.id, call.id, [])


def test_create_review_item_is_one_transaction(engine: Engine) -> None:
    intent = make_intent(engine)
    with pytest.raises(IntegrityError):  # the item's call does not exist: nothing commits
        create_review_item(engine, intent=intent, call_id="no-such-call", business="demo-salon",
                           reason="low STT confidence", confidence={})
    assert stored_intent(engine, intent.id).status == "pending"
    assert list_review_items(engine, status=None, business=None, limit=10, offset=0)[1] == 0


def test_only_booking_intents_are_reviewed(engine: Engine) -> None:
    intent = make_intent(engine, action="cancel")
    with pytest.raises(ValueError, match="only booking intents"):
        create_review_item(engine, intent=intent, call_id=None, business="demo-salon",
                           reason="unsure", confidence={})


def test_list_filters_and_pages_oldest_first(engine: Engine) -> None:
    salon = [make_item(engine) for _ in range(3)]
    make_item(engine, business="demo-dental")
    reject_item(engine, item_id=salon[0].id, actor="alice", reason="spam")

    page, total = list_review_items(engine, status="pending", business="demo-salon",
                                    limit=1, offset=0)
    assert total == 2 and [i.id for i in page] == [salon[1].id]
    page, _ = list_review_items(engine, status="pending", business="demo-salon", limit=1,
                                offset=1)
    assert [i.id for i in page] == [salon[2].id]
    assert list_review_items(engine, status=None, business=None, limit=10, offset=0)[1] == 4
    assert list_review_items(engine, status="rejected", business=None, limit=10,
                             offset=0)[1] == 1


def test_approve_records_booking_payload_and_audit(engine: Engine) -> None:
    item = make_item(engine)
    edited = PAYLOAD | {"start": "2030-01-07T11:00:00-05:00"}
    changes = {"start": {"from": PAYLOAD["start"], "to": edited["start"]}}
    done = approve_item(engine, item_id=item.id, actor="alice", payload=edited,
                        booking_id="bk-1", edits=changes, note="caller confirmed")
    assert (done.status, done.decided_by, done.booking_id, done.decision_note) == (
        "approved", "alice", "bk-1", "caller confirmed")
    assert done.decided_at is not None
    intent = stored_intent(engine, item.intent_id)
    assert (intent.status, intent.booking_id, intent.payload, intent.attempts) == (
        "done", "bk-1", edited, 1)
    assert sorted((a.action, a.actor, a.target) for a in audit_rows(engine)) == [
        ("approve", "alice", f"review_item:{item.id}"),
        ("edit", "alice", f"review_item:{item.id}")]


def test_a_decided_item_cannot_be_decided_again(engine: Engine) -> None:
    item = make_item(engine)
    reject_item(engine, item_id=item.id, actor="alice", reason="caller hung up, not sure")
    assert stored_intent(engine, item.intent_id).status == "rejected"
    with pytest.raises(NotPendingError) as caught:
        approve_item(engine, item_id=item.id, actor="bob", payload=PAYLOAD, booking_id="bk",
                     edits={}, note=None)
    assert (caught.value.item.status, caught.value.item.decided_by) == ("rejected", "alice")
    with pytest.raises(NotPendingError):
        reject_item(engine, item_id=item.id, actor="bob", reason="again")
    assert stored_intent(engine, item.intent_id).status == "rejected"
    assert [a.action for a in audit_rows(engine)] == ["reject"]
    with pytest.raises(KeyError):
        reject_item(engine, item_id="missing", actor="bob", reason="x")


def test_schema_has_the_review_tables(engine: Engine) -> None:
    assert {"api_token", "review_item", "audit_log"} <= set(sa.inspect(engine).get_table_names())
    with Session(engine) as session:
        assert list(session.exec(select(ApiToken))) == []
