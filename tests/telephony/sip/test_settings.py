"""SIP settings: off by default, loopback by default, an explicit allow-list, server options."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tests.conftest import TEST_SECRET_KEY
from voice_agent.config import Settings
from voice_agent.telephony.sip.server import SipServerOptions
from voice_agent.telephony.sip.transport import AllowList


def settings(**fields: object) -> Settings:
    return Settings(_env_file=None, **fields)


def test_sip_is_off_and_loopback_only_by_default() -> None:
    s = settings()
    assert not s.sip_enabled and s.sip_host == "127.0.0.1"
    allowed = AllowList(s.sip_peers)
    assert allowed("127.0.0.1") and allowed("::1") and not allowed("203.0.113.7")


def test_dev_refuses_a_public_sip_bind() -> None:
    with pytest.raises(ValidationError, match="refusing to listen"):
        settings(sip_enabled=True, sip_host="0.0.0.0")
    prod = settings(env="prod", twilio_auth_token="real", secret_key=TEST_SECRET_KEY,
                    sip_enabled=True, sip_host="0.0.0.0", sip_allowed_peers="203.0.113.0/24")
    assert AllowList(prod.sip_peers)("203.0.113.9") and not AllowList(prod.sip_peers)("10.0.0.1")


def test_rtp_range_and_credentials_are_checked() -> None:
    with pytest.raises(ValidationError, match="RTP_PORT_MIN"):
        settings(sip_rtp_port_min=30000, sip_rtp_port_max=20000)
    with pytest.raises(ValidationError, match="SIP_USERNAME"):
        settings(sip_username="trunk")


def test_environment_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICE_AGENT_SIP_NUMBERS", '{"+15550001111": "demo-salon"}')
    monkeypatch.setenv("VOICE_AGENT_SIP_ALLOWED_PEERS", "10.1.0.0/16, 192.0.2.10")
    monkeypatch.setenv("VOICE_AGENT_SIP_USERNAME", "trunk")
    monkeypatch.setenv("VOICE_AGENT_SIP_PASSWORD", "pw")
    options = SipServerOptions.from_settings(settings())
    assert options.numbers == {"+15550001111": "demo-salon"}
    assert options.allowed_peers == ("10.1.0.0/16", "192.0.2.10")
    assert options.auth is not None and options.pin_clock
    assert "pw" not in repr(settings())


def test_a_bad_allow_list_entry_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValidationError, match="SIP_ALLOWED_PEERS") as err:
        settings(sip_allowed_peers="10.0.0.0/8, not-an-address")
    assert "not-an-address" not in str(err.value)
