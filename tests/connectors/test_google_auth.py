"""The Google connector with a service-account key keeps working past its token's hour: the
token is minted at the key's token endpoint, refreshed before it expires and once on a 401.

Everything goes over real HTTP to a local recorder (``google_recorder.py``): ``google-auth``
signs the JWT and exchanges it, the connector's httpx client calls the Calendar API.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from connectors.base import ConnectorError, ConnectorStatusError
from connectors.google_calendar import KIND, GoogleCalendarConnector
from connectors.registry import BuildContext
from connectors.schedule import Business, load_business
from tests.connectors.google_recorder import GoogleRecorder, google_recorder, service_account_key
from tests.connectors.test_google_calendar import CALENDARS, MARIA, PHONE, TOM, FakeGoogle, sat


@pytest.fixture(scope="module")
def salon() -> Business:
    return load_business("businesses/demo-salon.yaml")


@pytest.fixture
def recorder() -> Iterator[GoogleRecorder]:
    with google_recorder(FakeGoogle([MARIA, TOM])) as rec:
        yield rec


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def connector(salon: Business, recorder: GoogleRecorder
                    ) -> AsyncIterator[GoogleCalendarConnector]:
    settings, secrets = KIND.validate(
        {"calendars": CALENDARS, "base_url": f"{recorder.url}/calendar/v3"},
        {"service_account_json": service_account_key(recorder)})
    made = KIND.build(BuildContext(business=salon), settings, secrets)
    assert isinstance(made, GoogleCalendarConnector)
    made.tokens.clock = Clock()  # type: ignore[union-attr]
    yield made
    await made.aclose()


async def test_token_is_minted_then_refreshed_before_it_expires(
        connector: GoogleCalendarConnector, recorder: GoogleRecorder) -> None:
    clock: Clock = connector.tokens.clock  # type: ignore[union-attr]
    await connector.health_check()
    booking = await connector.book(service="haircut", start=sat(10), name="Ann",
                                   phone=PHONE, idempotency_key="k-1")
    assert len(recorder.token_requests) == 1  # one token for all of those requests
    assert set(recorder.api_auth) == {"ya29.minted-1"}
    clock.now += timedelta(minutes=50)  # still well inside the hour
    await connector.find_bookings(phone=PHONE)
    assert len(recorder.token_requests) == 1
    clock.now += timedelta(minutes=6)  # 56 minutes: within the margin of its expiry
    assert [b.id for b in await connector.find_bookings(phone=PHONE)] == [booking.id]
    assert len(recorder.token_requests) == 2
    # refreshed before use: no request went out with the expiring token after the advance
    assert recorder.api_auth[-2:] == ["ya29.minted-2", "ya29.minted-2"]


async def test_a_401_refreshes_once_and_resends(connector: GoogleCalendarConnector,
                                                recorder: GoogleRecorder) -> None:
    await connector.health_check()
    recorder.valid.clear()  # revoked (or the key rotated) behind our back
    await connector.health_check()
    assert len(recorder.token_requests) == 2
    # health_check GETs both calendars: the first is refused, refreshed, resent; the second
    # goes straight out with the new token.
    assert recorder.api_auth == ["ya29.minted-1", "ya29.minted-1", "ya29.minted-1",
                                 "ya29.minted-2", "ya29.minted-2"]


async def test_a_persistent_401_is_refreshed_once_then_reported(
        connector: GoogleCalendarConnector, recorder: GoogleRecorder) -> None:
    recorder.reject_all = True
    with pytest.raises(ConnectorStatusError) as info:
        await connector.list_free_slots(service="haircut", start=sat(0), end=sat(23))
    assert info.value.status_code == 401 and not info.value.retryable
    # the first mint, one refresh after the 401: never a loop
    assert len(recorder.token_requests) == 2 and len(recorder.api_auth) == 2


async def test_concurrent_requests_share_one_refresh(connector: GoogleCalendarConnector,
                                                     recorder: GoogleRecorder) -> None:
    await asyncio.gather(*(connector.health_check() for _ in range(5)))
    assert len(recorder.token_requests) == 1


async def test_concurrent_401s_share_one_refresh(connector: GoogleCalendarConnector,
                                                 recorder: GoogleRecorder) -> None:
    await connector.health_check()
    recorder.valid.clear()
    await asyncio.gather(*(connector.health_check() for _ in range(5)))
    assert len(recorder.token_requests) == 2  # the first mint and one refresh for all five


async def test_a_refused_key_is_a_clear_error_without_key_material(
        connector: GoogleCalendarConnector, recorder: GoogleRecorder) -> None:
    recorder.token_error = (400, {"error": "invalid_grant",
                                  "error_description": "Invalid JWT Signature."})
    with pytest.raises(ConnectorError) as info:
        await connector.health_check()
    assert not info.value.retryable and "refused" in info.value.message
    assert "PRIVATE KEY" not in str(info.value) and recorder.api_auth == []


async def test_an_unreachable_token_endpoint_is_retryable(salon: Business,
                                                          recorder: GoogleRecorder) -> None:
    key = json.loads(service_account_key(recorder))
    key["token_uri"] = "http://127.0.0.1:9/token"  # nothing listens on the discard port
    settings, secrets = KIND.validate({"calendars": CALENDARS,
                                       "base_url": f"{recorder.url}/calendar/v3"},
                                      {"service_account_json": json.dumps(key)})
    connector = KIND.build(BuildContext(business=salon), settings, secrets)
    try:
        with pytest.raises(ConnectorError) as info:
            await connector.health_check()
        assert info.value.retryable
    finally:
        await connector.aclose()  # type: ignore[attr-defined]


def test_secrets_take_exactly_one_credential(recorder: GoogleRecorder) -> None:
    key = service_account_key(recorder)
    with pytest.raises(ValidationError, match="exactly one"):
        KIND.validate({}, {"access_token": "t", "service_account_json": key})
    with pytest.raises(ValidationError, match="exactly one"):
        KIND.validate({}, {})
    _, secrets = KIND.validate({"delegated_user": "owner@salon.example"},
                               {"service_account_json": key})
    assert "PRIVATE" not in repr(secrets)
    _, as_object = KIND.validate({}, {"service_account_json": json.loads(key)})  # a JSON file
    assert json.loads(as_object.service_account_json.get_secret_value()) == json.loads(key)


def test_a_malformed_key_is_refused_at_build(salon: Business) -> None:
    settings, secrets = KIND.validate({"calendars": CALENDARS},
                                      {"service_account_json": '{"type": "service_account"}'})
    with pytest.raises(ConnectorError, match="not a valid key file"):
        KIND.build(BuildContext(business=salon), settings, secrets)
