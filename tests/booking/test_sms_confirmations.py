"""Confirmations by text through Twilio's Messaging API (a local recorder stands in for it):
what the caller is promised is what is sent, a failure is retried from the outbox, and no
log line carries the caller's number."""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from sqlmodel import Session, select

from connectors.base import Booking
from connectors.builtin import BuiltinCalendar
from connectors.fake import FaultyConnector
from connectors.resilience import ConnectOptions, ResilientConnector
from tests.dialog.test_manager import CALLER, PROMPTS, TUE_3PM, rig
from voice_agent.booking.confirmations import Confirmations
from voice_agent.booking.outbox import Outbox
from voice_agent.booking.reconciler import OutboxReconciler
from voice_agent.booking.sms import SmsError, TwilioSms, message_form
from voice_agent.dialog.prompt import load_replies
from voice_agent.store.models import BookingIntent

ACCOUNT, AUTH = "AC" + "5" * 32, "sms-test-token"
SENDER = "+15550009999"
BOOKED_TEXT = ("Bella Hair Studio: your Haircut on Tuesday 1 December at 3 PM is booked for "
               "Dana Smith. To change it, just give us a call.")


@dataclass
class TwilioMessagesRecorder:
    url: str = ""
    accepted: list[dict[str, str]] = field(default_factory=list)
    auth: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    fail_next: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    def answer(self, path: str, auth: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self.paths.append(path)
        self.auth.append(auth)
        if self.fail_next:
            return self.fail_next.pop(0)
        sid = f"SM{len(self.accepted):032d}"
        self.accepted.append(form)
        return 201, {"sid": sid, "status": "queued", "to": form["To"], "from": form["From"],
                     "body": form["Body"]}


@pytest.fixture
def twilio() -> Iterator[TwilioMessagesRecorder]:
    recorder = TwilioMessagesRecorder()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            form = {k: v[0] for k, v in parse_qs(body).items()}
            status, answer = recorder.answer(self.path, self.headers.get("Authorization", ""),
                                             form)
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield recorder
    server.shutdown()
    server.server_close()


def confirmations(r, twilio: TwilioMessagesRecorder) -> Confirmations:
    sms = TwilioSms(account_sid=ACCOUNT, auth_token=AUTH, sender=SENDER, base_url=twilio.url)
    biz = r.manager.business
    return Confirmations(engine=r.store, sms=sms, texts=load_replies(PROMPTS),
                         businesses={biz.name: biz})


def with_texts(r, texts: Confirmations) -> None:
    """The call as ``pipeline/call.py`` builds it with ``sms_from`` set: the outbox
    confirms by text, and the replies are the ``@sms`` variants (in place: the policy and
    its renderer share the one dict)."""
    r.manager.desk.outbox = Outbox(r.store, confirmations=texts)
    r.manager.policy.replies.update(load_replies(PROMPTS, texts=True))


def texts_in_outbox(r) -> list[BookingIntent]:
    with Session(r.store) as session:
        return list(session.exec(select(BookingIntent).where(BookingIntent.action == "sms")))


def reconciler(r, texts: Confirmations, connector: Any = None) -> OutboxReconciler:
    biz = r.manager.business
    return OutboxReconciler(r.store, {biz.name: biz}, lambda _b: connector or r.calendar,
                            grace_s=0, sms=texts.sms, confirmations=texts)


async def book(r) -> str:
    r.manager.greeting()
    await r.say("my name is Dana Smith, I'd like a haircut next Tuesday at 3 pm")
    await r.say("Yes please, book it.")
    return (await r.say("That's fine.")).agent_text


async def test_a_booking_made_in_the_call_is_confirmed_by_the_text_it_promised(
        tmp_path: Path, twilio: TwilioMessagesRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with rig(tmp_path) as r:
        texts = confirmations(r, twilio)
        with_texts(r, texts)
        said = await book(r)
        await texts.drain()
        assert said == ("You're all set, Dana Smith: a haircut on Tuesday, December 1 at 3 PM. "
                        "I'll send you a text to confirm it. Is there anything else I can help "
                        "with?")
        assert twilio.accepted == [{"To": CALLER, "From": SENDER, "Body": BOOKED_TEXT}]
        assert twilio.paths == [f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"]
        assert twilio.auth == ["Basic " + base64.b64encode(f"{ACCOUNT}:{AUTH}".encode()).decode()]
        [intent] = texts_in_outbox(r)
        assert (intent.status, intent.booking_id) == ("done", "SM" + "0" * 32)
        await texts.aclose()
    digits = CALLER.lstrip("+")
    assert caplog.records and not any(digits in rec.getMessage() for rec in caplog.records)


async def test_without_texts_configured_nothing_is_promised_or_sent(
        tmp_path: Path, twilio: TwilioMessagesRecorder) -> None:
    async with rig(tmp_path) as r:
        said = await book(r)
        assert said.startswith("You're all set") and "text" not in said
        assert texts_in_outbox(r) == [] and twilio.accepted == []


async def test_a_text_twilio_refused_for_now_is_retried_from_the_outbox(
        tmp_path: Path, twilio: TwilioMessagesRecorder) -> None:
    async with rig(tmp_path) as r:
        texts = confirmations(r, twilio)
        with_texts(r, texts)
        twilio.fail_next.append((503, {"code": 20500, "message": "Internal Server Error"}))
        await book(r)
        await texts.drain()
        [intent] = texts_in_outbox(r)
        assert intent.status == "pending" and "503" in (intent.error or "")
        assert twilio.accepted == []  # not sent, not lost
        report = await reconciler(r, texts).run_once()
        assert report.done == 1
        assert [m["Body"] for m in twilio.accepted] == [BOOKED_TEXT]  # once
        assert (await reconciler(r, texts).run_once()).examined == 0
        await texts.aclose()


async def test_an_undeliverable_number_is_escalated_not_retried(
        tmp_path: Path, twilio: TwilioMessagesRecorder) -> None:
    async with rig(tmp_path) as r:
        texts = confirmations(r, twilio)
        with_texts(r, texts)
        twilio.fail_next.append((400, {"code": 21614, "message": "not a mobile number"}))
        await book(r)
        await texts.drain()
        [intent] = texts_in_outbox(r)
        assert intent.status == "escalated" and "21614" in (intent.error or "")
        await texts.aclose()


async def test_a_booking_finished_by_the_reconciler_is_texted_when_it_is_confirmed(
        tmp_path: Path, twilio: TwilioMessagesRecorder) -> None:
    def hanging(cal: BuiltinCalendar) -> ResilientConnector:
        return ResilientConnector(FaultyConnector(cal, hang=True, ops={"book"}), kind="crm",
                                  options=ConnectOptions(timeout=0.2, max_retry=0))

    async with rig(tmp_path, wrap=hanging) as r:
        texts = confirmations(r, twilio)
        with_texts(r, texts)
        said = await book(r)
        assert said == ("I've noted your request for a haircut on Tuesday, December 1 at 3 PM. "
                        "It isn't confirmed yet; you'll get a text as soon as it is. Is there "
                        "anything else?")
        assert twilio.accepted == [] and texts_in_outbox(r) == []  # nothing confirmed yet
        report = await reconciler(r, texts).run_once()  # the CRM answers again
        await texts.drain()
        assert report.done == 1
        assert [m["Body"] for m in twilio.accepted] == [BOOKED_TEXT]
        await texts.aclose()


async def test_cancel_and_move_finished_later_are_texted(
        tmp_path: Path, twilio: TwilioMessagesRecorder) -> None:
    async with rig(tmp_path) as r:
        texts = confirmations(r, twilio)
        kept = await r.calendar.book(service="haircut", start=TUE_3PM, name="Dana Smith",
                                     phone=CALLER, idempotency_key="a")
        gone = await r.calendar.book(service="color", start=TUE_3PM.replace(hour=11),
                                     name="Dana Smith", phone=CALLER, idempotency_key="b")
        outbox = Outbox(r.store)
        await outbox.record(business="demo-salon", call_id=r.call_id, action="reschedule",
                            payload={"booking_id": kept.id,
                                     "new_start": TUE_3PM.replace(hour=16).isoformat()})
        await outbox.record(business="demo-salon", call_id=r.call_id, action="cancel",
                            payload={"booking_id": gone.id})
        assert (await reconciler(r, texts).run_once()).done == 2
        await texts.drain()
        assert sorted(m["Body"] for m in twilio.accepted) == sorted([
            "Bella Hair Studio: your Haircut has been moved to Tuesday 1 December at 4 PM.",
            "Bella Hair Studio: your Hair colouring on Tuesday 1 December at 11 AM has been "
            "cancelled."])
        await texts.aclose()


def test_the_message_form() -> None:
    assert message_form(to=" +15551230001 ", sender=SENDER, body="Hi") == {
        "To": "+15551230001", "From": SENDER, "Body": "Hi"}
    with pytest.raises(SmsError):
        message_form(to="", sender=SENDER, body="Hi")
    assert len(message_form(to="1", sender="2", body="x" * 2000)["Body"]) == 640


def test_the_promises_exist_only_with_texts() -> None:
    plain, texted = load_replies(PROMPTS), load_replies(PROMPTS, texts=True)
    assert not any("@" in k for k in (*plain, *texted))
    assert not any("text" in v for k, v in plain.items() if not k.startswith("sms_"))
    assert {k for k, v in texted.items() if "a text" in v} == {
        "booked", "booked_goodbye", "booking_pending", "booking_pending_goodbye",
        "rescheduled", "rescheduled_goodbye", "cancelled", "cancelled_goodbye",
        "booked_then", "booking_pending_then"}  # the first of two: dialog/follow_on.py


async def test_a_move_and_a_cancel_in_the_call_are_texted_as_promised(
        tmp_path: Path, twilio: TwilioMessagesRecorder) -> None:
    from tests.dialog.test_existing_bookings import FRI_HAIRCUT, WED_HAIRCUT
    from tests.dialog.test_existing_bookings import rig as bookings_rig

    async with bookings_rig(tmp_path, calendar=[WED_HAIRCUT, FRI_HAIRCUT]) as r:
        texts = confirmations(r, twilio)
        with_texts(r, texts)
        r.manager.greeting()
        await r.say("Hi, I'd like to reschedule my haircut on Wednesday")
        await r.say("Friday at 4 please")
        moved = await r.say("Yes, please.")
        assert moved.agent_text.startswith(
            "Done, your haircut is now on Friday, November 27 at 4 PM. I'll send you a text "
            "to confirm it.")
        await r.say("I'd also like to cancel my haircut on Friday at 11")
        asked = await r.say("The one at 11 AM.")
        assert asked.agent_text.endswith("Shall I go ahead and cancel it?"), asked.agent_text
        cancelled = await r.say("Yes, please cancel it.")
        assert "is cancelled. I'll send you a text to confirm it." in cancelled.agent_text
        await texts.drain()
        assert [m["Body"] for m in twilio.accepted] == [
            "Bella Hair Studio: your Haircut has been moved to Friday 27 November at 4 PM.",
            "Bella Hair Studio: your Haircut on Friday 27 November at 11 AM has been "
            "cancelled."]
        assert {m["To"] for m in twilio.accepted} == {CALLER}
        await texts.aclose()


async def test_the_runtime_texts_only_with_a_sending_number(tmp_path: Path) -> None:
    from connectors.schedule import load_businesses
    from voice_agent.config import Settings
    from voice_agent.runtime.container import confirmations_for
    from voice_agent.store.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path}/x.db")
    businesses = load_businesses(Settings(_env_file=None).businesses_dir)
    try:
        assert confirmations_for(Settings(_env_file=None), engine, businesses) is None
        texts = confirmations_for(Settings(_env_file=None, sms_from=SENDER,
                                           twilio_api_base_url="http://127.0.0.1:9"),
                                  engine, businesses)
        assert texts is not None and texts.sms.sender == SENDER
        booking = Booking(id="b1", business="demo-salon", service="haircut", start=TUE_3PM,
                          end=TUE_3PM + timedelta(minutes=30), name="Dana Smith",
                          phone=CALLER, staff="Maria", status="booked")
        assert texts.body("booked", businesses["demo-salon"], booking) == BOOKED_TEXT
        await texts.aclose()
    finally:
        engine.dispose()

