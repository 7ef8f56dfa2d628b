"""``voice-agent connectors list|add|test|remove``, ``outbox reconcile`` and ``secret-key``,
run through typer on a temporary SQLite database (dev mode: the secret key file is generated
in the data folder), with ``connectors test`` against a real Radicale CalDAV server."""

from __future__ import annotations

import json
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from cryptography.fernet import Fernet
from rich.console import Console
from sqlmodel import Session, select
from typer.testing import CliRunner

from tests.connectors.radicale_server import Radicale, radicale_server
from voice_agent.cli import app
from voice_agent.cli import connectors as cli_connectors
from voice_agent.config import get_settings
from voice_agent.store.connector_configs import ConnectorConfig, get_config, resolved_config
from voice_agent.store.db import make_engine
from voice_agent.store.review import AuditLog
from voice_agent.store.secret_box import DEV_KEY_FILE, SecretBox

SECRET = "s3cret"
CALDAV = {"calendar_url": "http://127.0.0.1:9/salon/", "username": "salon"}


class Cli:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.url = f"sqlite:///{data_dir}/x.db"
        self.runner = CliRunner()

    def __call__(self, *args: str, db: bool = True) -> Result:
        extra = ["--database-url", self.url] if db else []
        return self.runner.invoke(app, [*args, *extra])

    def config(self, business: str = "demo-salon") -> ConnectorConfig | None:
        engine = make_engine(self.url)
        try:
            return get_config(engine, business)
        finally:
            engine.dispose()

    def secrets(self, business: str = "demo-salon") -> dict:
        engine = make_engine(self.url)
        box = SecretBox((self.data_dir / DEV_KEY_FILE).read_text().strip())
        try:
            return resolved_config(engine, box, business)[2]
        finally:
            engine.dispose()

    def audit(self) -> list[tuple[str, str]]:
        engine = make_engine(self.url)
        try:
            with Session(engine) as session:
                return [(a.actor, a.action)
                        for a in session.exec(select(AuditLog).order_by(AuditLog.at))]
        finally:
            engine.dispose()


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    monkeypatch.setenv("VOICE_AGENT_DATA_DIR", str(tmp_path))
    for name in ("VOICE_AGENT_ENV", "VOICE_AGENT_SECRET_KEY", "SECRET_KEY",
                 "VOICE_AGENT_DATABASE_URL", "DATABASE_URL", "VOICE_AGENT_BUSINESSES_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env file
    # plain, wide output whatever terminal the tests run in (tables don't wrap, JSON parses)
    monkeypatch.setattr(cli_connectors, "console", Console(width=200, color_system=None))
    get_settings.cache_clear()
    yield Cli(tmp_path)
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def radicale(tmp_path_factory) -> Iterator[Radicale]:
    with radicale_server(tmp_path_factory.mktemp("radicale")) as server:
        yield server


def line_of(output: str, business: str) -> str:
    [line] = [ln for ln in output.splitlines() if f" {business} " in ln]
    return line


def add_caldav(cli: Cli, *extra: str) -> Result:
    return cli("connectors", "add", "demo-salon", "--kind", "caldav",
               "--settings", json.dumps(CALDAV), "--secret", f"password={SECRET}", *extra)


def test_add_and_list_never_print_the_secret(cli: Cli) -> None:
    result = add_caldav(cli)
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    assert "demo-salon: caldav connector, version 1 (secrets: password)" in result.stdout

    key_file = cli.data_dir / DEV_KEY_FILE  # dev mode: a key generated once, private
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert cli.secrets() == {"password": SECRET}
    row = cli.config()
    assert row.settings["calendar_url"] == CALDAV["calendar_url"]
    assert row.updated_by.startswith("cli:")
    assert SECRET.encode() not in (cli.data_dir / "x.db").read_bytes()

    listed = cli("connectors", "list")
    assert listed.exit_code == 0, listed.output
    assert SECRET not in listed.output
    salon = line_of(listed.stdout, "demo-salon")
    assert "caldav" in salon and "password" in salon and " 1 " in salon
    assert "builtin (default)" in line_of(listed.stdout, "demo-dental")
    assert [action for _, action in cli.audit()] == ["connector.create"]


def test_settings_and_secrets_from_files(cli: Cli, tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"event_types": {"haircut": 11, "blowdry": 12}}))
    secrets = tmp_path / "secrets.json"
    secrets.write_text(json.dumps({"api_key": "cal_live_abc123"}))
    result = cli("connectors", "add", "demo-salon", "--kind", "calcom",
                 "--settings", f"@{settings}", "--secrets-file", str(secrets))
    assert result.exit_code == 0, result.output
    assert "cal_live_abc123" not in result.output
    assert cli.config().settings["event_types"] == {"haircut": 11, "blowdry": 12}
    assert cli.secrets() == {"api_key": "cal_live_abc123"}


@pytest.mark.parametrize(("args", "expected"), [
    (["--kind", "caldav", "--settings", '{"calendar_url": "not a url"}'],
     "settings.calendar_url"),
    (["--kind", "caldav", "--settings", '{"colour": "red"}'], "settings.colour"),
    (["--kind", "caldav", "--secret", "api_key=xyz"], "secrets.api_key"),
    (["--kind", "calcom", "--settings", "{}"], "settings.event_types"),
    (["--kind", "outlook"], "unknown connector kind 'outlook'"),
])
def test_invalid_configuration_exits_1_naming_the_field(cli: Cli, args: list[str],
                                                        expected: str) -> None:
    result = cli("connectors", "add", "demo-salon", *args)
    assert result.exit_code == 1, result.output
    assert expected in result.output
    assert cli.config() is None


@pytest.mark.parametrize("settings", ["{not json", "[1, 2]"])
def test_settings_must_be_a_json_object(cli: Cli, settings: str) -> None:
    result = cli("connectors", "add", "demo-salon", "--kind", "caldav", "--settings", settings)
    assert result.exit_code == 2  # a usage error
    assert "--settings" in result.output
    assert cli.config() is None


def test_unknown_business(cli: Cli) -> None:
    result = cli("connectors", "add", "no-such-salon", "--kind", "builtin")
    assert result.exit_code == 1 and "no business 'no-such-salon'" in result.output
    result = cli("connectors", "test", "no-such-salon")
    assert result.exit_code == 1 and "no business 'no-such-salon'" in result.output


def test_add_again_needs_replace(cli: Cli) -> None:
    assert add_caldav(cli).exit_code == 0
    again = add_caldav(cli)
    assert again.exit_code == 1
    assert "already has a connector" in again.output
    assert cli.config().version == 1

    other = {"calendar_url": "http://127.0.0.1:9/other/", "username": "salon"}
    replaced = cli("connectors", "add", "demo-salon", "--kind", "caldav", "--replace",
                   "--settings", json.dumps(other))
    assert replaced.exit_code == 0, replaced.output
    assert "version 2 (secrets: password)" in replaced.output
    row = cli.config()
    assert (row.version, row.settings["calendar_url"]) == (2, other["calendar_url"])
    assert cli.secrets() == {"password": SECRET}  # omitted secrets are kept
    assert [action for _, action in cli.audit()] == ["connector.create", "connector.update"]

    # --replace with nothing configured yet simply creates
    result = cli("connectors", "add", "demo-dental", "--kind", "builtin", "--replace")
    assert result.exit_code == 0 and "version 1" in result.output


def test_connectors_test_against_radicale(cli: Cli, radicale: Radicale) -> None:
    tag = uuid.uuid4().hex[:8]
    calendars = {"Maria": radicale.make_calendar(f"maria-{tag}"),
                 "Tom": radicale.make_calendar(f"tom-{tag}")}
    settings = json.dumps({"staff_calendars": calendars, "username": radicale.user})
    added = cli("connectors", "add", "demo-salon", "--kind", "caldav", "--settings", settings,
                "--secret", f"password={radicale.password}")
    assert added.exit_code == 0, added.output

    result = cli("connectors", "test", "demo-salon")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["kind"] == "caldav"
    assert report["health"]["ok"] is True and report["availability"]["free_slots"] > 0
    assert radicale.password not in result.output

    wrong = "not-the-radicale-password"
    replaced = cli("connectors", "add", "demo-salon", "--kind", "caldav", "--replace",
                   "--settings", settings, "--secret", f"password={wrong}")
    assert replaced.exit_code == 0, replaced.output
    result = cli("connectors", "test", "demo-salon")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False and "401" in report["health"]["error"]
    assert wrong not in result.output
    assert [a for _, a in cli.audit()].count("connector.test") == 2


def test_connectors_test_builtin_by_default(cli: Cli) -> None:
    result = cli("connectors", "test", "demo-dental")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["ok"], report["kind"]) == (True, "builtin")
    assert report["availability"]["free_slots"] > 0


def test_remove(cli: Cli) -> None:
    assert add_caldav(cli).exit_code == 0
    result = cli("connectors", "remove", "demo-salon")
    assert result.exit_code == 0, result.output
    assert "connector removed" in result.output
    assert cli.config() is None
    listed = cli("connectors", "list")
    assert "builtin (default)" in line_of(listed.stdout, "demo-salon")

    again = cli("connectors", "remove", "demo-salon")
    assert again.exit_code == 1
    assert "has no connector configured" in again.output
    assert [a for _, a in cli.audit()] == ["connector.create", "connector.delete"]


def test_secret_key_prints_a_fernet_key(cli: Cli) -> None:
    first = cli("secret-key", db=False)
    second = cli("secret-key", db=False)
    assert first.exit_code == 0 and second.exit_code == 0
    key = first.stdout.strip()
    assert Fernet(key.encode()).decrypt(Fernet(key.encode()).encrypt(b"x")) == b"x"
    assert SecretBox(key).decrypt(SecretBox(key).encrypt({"a": 1})) == {"a": 1}
    assert key != second.stdout.strip()


def test_outbox_reconcile_on_an_empty_database(cli: Cli) -> None:
    result = cli("outbox", "reconcile")
    assert result.exit_code == 0, result.output
    assert "examined 0" in result.output
