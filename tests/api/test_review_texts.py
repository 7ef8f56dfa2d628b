"""A booking a reviewer approves is confirmed by text: on the call, the caller was told
they would get one once it was confirmed (``booking_pending@sms``)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.api.test_review import PAYLOAD, add_item, auth, engine_of
from tests.booking.test_sms_confirmations import (  # noqa: F401  (fixture)
    ACCOUNT,
    AUTH,
    SENDER,
    TwilioMessagesRecorder,
    twilio,
)
from tests.dialog.test_manager import PROMPTS
from voice_agent.booking.confirmations import Confirmations
from voice_agent.booking.sms import TwilioSms
from voice_agent.dialog.prompt import load_replies
from voice_agent.store.review import create_token


@pytest.fixture
def client(make_client) -> Iterator[TestClient]:
    with make_client() as client:
        yield client


def test_an_approved_booking_is_texted(client: TestClient,
                                       twilio: TwilioMessagesRecorder) -> None:  # noqa: F811
    runtime = client.runtime  # type: ignore[attr-defined]
    runtime.confirmations = Confirmations(
        engine=runtime.engine, businesses=runtime.businesses, texts=load_replies(PROMPTS),
        sms=TwilioSms(account_sid=ACCOUNT, auth_token=AUTH, sender=SENDER,
                      base_url=twilio.url))
    token = create_token(engine_of(client), name="alice", role="reviewer")
    item = add_item(engine_of(client))
    resp = client.post(f"/review/items/{item.id}/approve", headers=auth(token))
    assert resp.status_code == 200, resp.text
    deadline = time.monotonic() + 5
    while not twilio.accepted and time.monotonic() < deadline:  # delivered in the background
        time.sleep(0.05)
    assert twilio.accepted == [{
        "To": PAYLOAD["phone"], "From": SENDER,
        "Body": "Bella Hair Studio: your Haircut on Monday 7 January at 10 AM is booked for "
                "Ann Lee. To change it, just give us a call."}]


def test_without_texts_an_approval_sends_nothing(client: TestClient,
                                                 twilio: TwilioMessagesRecorder  # noqa: F811
                                                 ) -> None:
    token = create_token(engine_of(client), name="alice", role="reviewer")
    item = add_item(engine_of(client))
    assert client.post(f"/review/items/{item.id}/approve", headers=auth(token)).status_code == 200
    time.sleep(0.3)
    assert twilio.accepted == []
