"""The human review queue: list, inspect, listen to, approve (optionally edited) or reject
uncertain bookings. Every route needs a reviewer (or admin) token; every decision is audited."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy import Engine

from connectors.base import ConnectorError, InvalidRequestError, SlotUnavailableError
from connectors.schedule import Business
from voice_agent.api.auth import ReviewerDep
from voice_agent.api.deps import RuntimeDep
from voice_agent.runtime.container import Runtime
from voice_agent.store import review as store
from voice_agent.store.models import Call, Turn

log = logging.getLogger(__name__)
router = APIRouter(prefix="/review", tags=["review"])

ItemId = Annotated[str, Path(min_length=1, max_length=64)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
TIMINGS = ("speech_end_ts", "stt_done_ts", "turn_end_ts", "llm_first_token_ts",
           "tts_first_audio_ts", "first_audio_sent_ts")


# -- request and response bodies -------------------------------------------------------------


class Edits(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    service: str | None = Field(None, min_length=1, max_length=100)
    start: str | None = Field(None, min_length=1, max_length=64,
                              description="ISO 8601 with a UTC offset")
    name: str | None = Field(None, min_length=1, max_length=200)
    phone: str | None = Field(None, min_length=3, max_length=32)

    @field_validator("start")
    @classmethod
    def _aware_iso(cls, value: str | None) -> str | None:
        return None if value is None else _parse_start(value).isoformat()


class ApproveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    edits: Edits | None = None
    note: Text | None = None


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Text


class ItemOut(BaseModel):
    id: str
    call_id: str | None
    intent_id: str
    business: str
    status: str
    reason: str
    confidence: dict[str, Any]
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None
    booking_id: str | None
    created_at: datetime

    @classmethod
    def of(cls, item: store.ReviewItem) -> ItemOut:
        data = item.model_dump()
        data["created_at"], data["decided_at"] = (store.as_utc(item.created_at),
                                                  store.as_utc(item.decided_at))
        return cls.model_validate(data)


class ItemPage(BaseModel):
    items: list[ItemOut]
    total: int
    limit: int
    offset: int


class IntentOut(BaseModel):
    id: str
    action: str
    status: str
    payload: dict[str, Any]
    booking_id: str | None
    error: str | None


class TurnOut(BaseModel):
    index: int
    caller_text: str | None
    agent_text: str | None
    tool_calls: list[dict[str, Any]]
    stt_avg_logprob: float | None
    stt_no_speech_prob: float | None
    timings: dict[str, float | None] = Field(description="Per-stage unix timestamps")

    @classmethod
    def of(cls, turn: Turn) -> TurnOut:
        return cls(index=turn.index, caller_text=turn.caller_text, agent_text=turn.agent_text,
                   tool_calls=turn.tool_calls or [], stt_avg_logprob=turn.stt_avg_logprob,
                   stt_no_speech_prob=turn.stt_no_speech_prob,
                   timings={name: getattr(turn, name) for name in TIMINGS})


class ItemDetail(ItemOut):
    intent: IntentOut | None
    turns: list[TurnOut]
    recording_url: str | None


# -- helpers ---------------------------------------------------------------------------------


def _parse_start(value: str) -> datetime:
    try:
        start = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("start must be an ISO 8601 datetime") from None
    if start.tzinfo is None:
        raise ValueError("start needs a UTC offset, e.g. 2026-12-05T10:00:00-05:00")
    return start


def _engine(runtime: Runtime) -> Engine:
    assert runtime.engine is not None
    return runtime.engine


async def _item_or_404(runtime: Runtime, item_id: str) -> store.ReviewItem:
    item = await asyncio.to_thread(store.get_review_item, _engine(runtime), item_id)
    if item is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such review item")
    return item


def _conflict(item: store.ReviewItem) -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT,
                         detail=f"this item was already {item.status} by {item.decided_by}")


def _recording_file(runtime: Runtime, call: Call | None) -> FilePath | None:
    """The call's WAV, only if it exists inside the recordings directory."""
    if call is None or not call.recording_path:
        return None
    path = FilePath(call.recording_path).resolve()
    root = runtime.settings.recordings_dir.resolve()
    return path if path.is_relative_to(root) and path.is_file() else None


def _unbookable(msg: str) -> HTTPException:
    """A 422 in the documented shape of every 422 (FastAPI's ``HTTPValidationError``): found
    by schemathesis, a bare string ``detail`` broke the response schema of approve."""
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=[
        {"loc": ["body", "edits"], "msg": msg, "type": "value_error"}])


def _booking_request(business: Business, payload: dict[str, Any]) -> dict[str, Any]:
    """Connector arguments from an intent payload; 422 when it can't be booked as it is."""
    service = payload.get("service")
    try:
        business.service(str(service))
        start = _parse_start(str(payload.get("start")))
    except (KeyError, ValueError) as exc:
        detail = str(exc).strip("'\"") if isinstance(exc, KeyError) else str(exc)
        raise _unbookable(detail) from None
    name, phone = payload.get("name"), payload.get("phone")
    if not (isinstance(name, str) and name.strip() and isinstance(phone, str) and phone.strip()):
        raise _unbookable("the booking needs the caller's name and phone (edit them)")
    return {"service": service, "start": start, "name": name, "phone": phone,
            "staff": payload.get("staff")}


# -- routes ----------------------------------------------------------------------------------


@router.get("/items")
async def list_items(
    runtime: RuntimeDep, _token: ReviewerDep,
    item_status: Annotated[Literal["pending", "approved", "rejected", "all"],
                           Query(alias="status")] = "pending",
    business: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> ItemPage:
    items, total = await asyncio.to_thread(
        store.list_review_items, _engine(runtime),
        status=None if item_status == "all" else item_status, business=business,
        limit=limit, offset=offset,
    )
    return ItemPage(items=[ItemOut.of(i) for i in items], total=total, limit=limit,
                    offset=offset)


@router.get("/items/{item_id}")
async def show_item(
    item_id: ItemId, request: Request, runtime: RuntimeDep, _token: ReviewerDep
) -> ItemDetail:
    item = await _item_or_404(runtime, item_id)
    intent, call, turns = await asyncio.to_thread(store.review_context, _engine(runtime), item)
    recording = _recording_file(runtime, call)
    url = request.app.url_path_for("review_recording", item_id=item.id) if recording else None
    return ItemDetail(
        **ItemOut.of(item).model_dump(),
        intent=IntentOut.model_validate(intent.model_dump()) if intent else None,
        turns=[TurnOut.of(t) for t in turns], recording_url=url,
    )


@router.get("/items/{item_id}/recording", name="review_recording", response_class=FileResponse,
            responses={200: {"content": {"audio/wav": {}}, "description": "The call's WAV"}})
async def item_recording(item_id: ItemId, runtime: RuntimeDep, _token: ReviewerDep):
    item = await _item_or_404(runtime, item_id)
    _, call, _ = await asyncio.to_thread(store.review_context, _engine(runtime), item)
    path = _recording_file(runtime, call)
    if path is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="this call has no recording")
    return FileResponse(path, media_type="audio/wav", filename=f"call-{item.call_id}.wav")


@router.post("/items/{item_id}/approve")
async def approve_item(
    item_id: ItemId, runtime: RuntimeDep, token: ReviewerDep, body: ApproveBody | None = None
) -> ItemOut:
    """Book the (optionally edited) request through the business's connector."""
    engine, body = _engine(runtime), body or ApproveBody()
    item = await _item_or_404(runtime, item_id)
    if item.status != "pending":
        raise _conflict(item)
    intent, _, _ = await asyncio.to_thread(store.review_context, engine, item)
    assert intent is not None  # a foreign key: an item never outlives its intent
    business = runtime.businesses.get(item.business)
    if business is None:
        raise HTTPException(status.HTTP_409_CONFLICT,
                            detail=f"business {item.business!r} is not configured here")
    edits = body.edits.model_dump(exclude_none=True) if body.edits else {}
    payload = intent.payload | edits
    changes = {k: {"from": intent.payload.get(k), "to": v} for k, v in edits.items()
               if intent.payload.get(k) != v}
    request = _booking_request(business, payload)
    connector = runtime.connector_for(business)
    try:
        booking = await connector.book(**request, idempotency_key=intent.idempotency_key)
    except ConnectorError as exc:
        code = (status.HTTP_409_CONFLICT if isinstance(exc, SlotUnavailableError)
                else status.HTTP_422_UNPROCESSABLE_CONTENT if isinstance(exc, InvalidRequestError)
                else status.HTTP_502_BAD_GATEWAY)
        await asyncio.to_thread(
            store.record_audit, engine, actor=token.name, action="approve_failed",
            target=f"review_item:{item.id}",
            detail={"intent_id": intent.id, "error": exc.message, "changes": changes},
        )
        log.warning("approving review item %s failed: %s", item.id, type(exc).__name__)
        if code == status.HTTP_422_UNPROCESSABLE_CONTENT:
            raise _unbookable(f"cannot book: {exc.message}") from None
        detail = (f"cannot book: {exc.message}" if code != status.HTTP_502_BAD_GATEWAY
                  else f"the calendar did not accept the booking: {exc.message}")
        raise HTTPException(code, detail=detail) from None
    if booking.start != request["start"] or booking.service != request["service"]:
        # The idempotency key already holds a booking (made during the call) for other details.
        raise HTTPException(status.HTTP_409_CONFLICT, detail=(
            f"this request already has booking {booking.id} ({booking.service} at "
            f"{booking.start.isoformat()}); approve it without edits, then reschedule"))
    try:
        item = await asyncio.to_thread(
            store.approve_item, engine, item_id=item.id, actor=token.name, payload=payload,
            booking_id=booking.id, edits=changes, note=body.note,
        )
    except store.NotPendingError as exc:  # decided concurrently while we were booking
        if not (exc.item.status == "approved" and exc.item.booking_id == booking.id):
            try:
                await connector.cancel(booking.id)
            except ConnectorError as cancel_exc:
                log.error("booking %s for %s review item %s could not be undone: %s",
                          booking.id, exc.item.status, item.id, cancel_exc.message)
        raise _conflict(exc.item) from None
    log.info("review item %s approved by %s: booking %s", item.id, token.name, booking.id)
    if runtime.confirmations is not None:  # the caller was told: a text once it is confirmed
        await runtime.confirmations.send("booked", business, booking, call_id=item.call_id)
    return ItemOut.of(item)


@router.post("/items/{item_id}/reject")
async def reject_item(
    item_id: ItemId, body: RejectBody, runtime: RuntimeDep, token: ReviewerDep
) -> ItemOut:
    item = await _item_or_404(runtime, item_id)
    try:
        item = await asyncio.to_thread(store.reject_item, _engine(runtime), item_id=item.id,
                                       actor=token.name, reason=body.reason)
    except store.NotPendingError as exc:
        raise _conflict(exc.item) from None
    log.info("review item %s rejected by %s", item.id, token.name)
    return ItemOut.of(item)
