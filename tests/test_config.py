"""Settings: the only place that reads the environment."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tests.conftest import TEST_SECRET_KEY
from voice_agent.config import DEV_TWILIO_TOKEN, REPO_ROOT, Settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch) -> None:
    for name in ("LLM_BASE_URL", "TTS_BASE_URL", "DATABASE_URL", "TWILIO_AUTH_TOKEN",
                 "VOICE_AGENT_ENV", "VOICE_AGENT_LLM_BASE_URL", "VOICE_AGENT_DATABASE_URL",
                 "VOICE_AGENT_TWILIO_AUTH_TOKEN", "VOICE_AGENT_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)


def settings(**fields: object) -> Settings:
    return Settings(_env_file=None, **fields)


def test_defaults() -> None:
    s = settings()
    assert s.env == "dev"
    assert s.twilio_auth_token == DEV_TWILIO_TOKEN
    assert s.llm_base_url is None and s.tts_base_url is None
    assert s.models_dir == REPO_ROOT / ".models"


def test_prod_refuses_the_default_twilio_token() -> None:
    with pytest.raises(ValidationError, match="TWILIO_AUTH_TOKEN"):
        settings(env="prod", secret_key=TEST_SECRET_KEY)


@pytest.mark.parametrize("env", ["test", "prod"])
def test_outside_dev_a_secret_key_is_required(env: str) -> None:
    with pytest.raises(ValidationError, match="VOICE_AGENT_SECRET_KEY"):
        settings(env=env, twilio_auth_token="real-token")


def test_dev_needs_no_secret_key() -> None:
    assert settings(env="dev").secret_key is None


def test_prod_refuses_the_default_token_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("VOICE_AGENT_ENV", "prod")
    monkeypatch.setenv("VOICE_AGENT_SECRET_KEY", TEST_SECRET_KEY)
    with pytest.raises(ValidationError):
        Settings(_env_file=None)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "real-token")
    assert Settings(_env_file=None).env == "prod"


def test_prod_accepts_a_real_token() -> None:
    real = settings(env="prod", twilio_auth_token="real-token", secret_key=TEST_SECRET_KEY)
    assert real.twilio_auth_token == "real-token"


def test_the_default_token_is_refused_in_test_too() -> None:
    with pytest.raises(ValidationError, match="TWILIO_AUTH_TOKEN"):
        settings(env="test", secret_key=TEST_SECRET_KEY)
    assert settings(env="dev").twilio_auth_token == DEV_TWILIO_TOKEN


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "agent.example.com", ""])
def test_dev_refuses_a_non_loopback_bind(host: str) -> None:
    with pytest.raises(ValidationError, match="development mode"):
        settings(env="dev", host=host)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"])
def test_dev_binds_loopback(host: str) -> None:
    assert settings(env="dev", host=host).host == host


def test_prod_may_bind_anywhere() -> None:
    s = settings(env="prod", host="0.0.0.0", twilio_auth_token="real", secret_key=TEST_SECRET_KEY)
    assert s.host == "0.0.0.0"


def test_dev_refuses_a_public_url() -> None:
    with pytest.raises(ValidationError, match="PUBLIC_URL"):
        settings(env="dev", public_url="https://agent.example.com")


SECRET = "Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXg="  # 44 characters, like a Fernet key


def _chunks(value: str, size: int = 8) -> list[str]:
    return [value[i:i + size] for i in range(0, len(value) - size + 1)]


def test_a_settings_error_never_echoes_a_secret() -> None:
    # the model validator fails (default Twilio token outside dev) with the key in the input
    with pytest.raises(ValidationError) as info:
        settings(env="prod", secret_key=SECRET, llm_api_key="sk-live-" + SECRET[:30])
    text = str(info.value) + repr(info.value)
    assert "TWILIO_AUTH_TOKEN" in text
    assert not [c for c in _chunks(SECRET) if c in text]


def test_a_field_error_never_echoes_the_bad_value(monkeypatch) -> None:
    monkeypatch.setenv("VOICE_AGENT_SECRET_KEY", SECRET)
    monkeypatch.setenv("VOICE_AGENT_PORT", SECRET)  # a secret pasted into the wrong variable
    monkeypatch.setenv("VOICE_AGENT_TWILIO_HANG_UP", "pw-" + SECRET)
    with pytest.raises(ValidationError) as info:
        Settings(_env_file=None)
    text = str(info.value) + repr(info.value)
    assert "port" in text and "twilio_hang_up" in text
    assert not [c for c in _chunks(SECRET) if c in text]


def test_unknown_env_is_rejected() -> None:
    with pytest.raises(ValidationError):
        settings(env="staging")


def test_db_url_defaults_to_sqlite_under_data_dir(tmp_path) -> None:
    s = settings(data_dir=tmp_path)
    assert s.db_url == f"sqlite:///{tmp_path / 'voice_agent.db'}"
    assert s.recordings_dir == tmp_path / "recordings"


def test_database_url_wins(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db/voice")
    assert settings(data_dir=tmp_path).db_url == "postgresql://u@db/voice"


def test_unprefixed_llm_base_url_is_read(monkeypatch) -> None:
    monkeypatch.setenv("LLM_BASE_URL", "http://vllm:8000/v1")
    assert Settings(_env_file=None).llm_base_url == "http://vllm:8000/v1"


def test_prefixed_llm_base_url_is_read(monkeypatch) -> None:
    monkeypatch.setenv("VOICE_AGENT_LLM_BASE_URL", "http://vllm:8000/v1")
    assert Settings(_env_file=None).llm_base_url == "http://vllm:8000/v1"


def test_unprefixed_twilio_token_is_read(monkeypatch) -> None:
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "from-env")
    assert Settings(_env_file=None).twilio_auth_token == "from-env"


def test_env_file_is_read(monkeypatch, tmp_path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("TTS_BASE_URL=http://piper:5000\nVOICE_AGENT_PORT=9000\n")
    s = Settings(_env_file=env_file)
    assert (s.tts_base_url, s.port) == ("http://piper:5000", 9000)
