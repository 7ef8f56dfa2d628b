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


@pytest.mark.parametrize("env", ["dev", "test"])
def test_default_token_is_fine_outside_prod(env: str) -> None:
    assert settings(env=env, secret_key=TEST_SECRET_KEY).env == env


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
