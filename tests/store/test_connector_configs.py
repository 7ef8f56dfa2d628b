"""Connector configuration store: validation that names the field, Fernet-encrypted secrets
that never come back out, merge-on-update, versions, the audit trail, keys and rotation."""

from __future__ import annotations

import json
import logging
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from sqlalchemy import Engine
from sqlmodel import Session, select

from tests.conftest import TEST_SECRET_KEY
from voice_agent.config import Settings
from voice_agent.store.connector_configs import (
    ConfigExistsError,
    ConfigNotFoundError,
    ConnectorConfig,
    ConnectorConfigError,
    create_config,
    delete_config,
    get_config,
    list_configs,
    public_view,
    resolved_config,
    update_config,
)
from voice_agent.store.db import make_engine, upgrade
from voice_agent.store.review import AuditLog
from voice_agent.store.secret_box import (
    DEV_KEY_FILE,
    SecretBox,
    SecretsUnreadableError,
    secret_box_for,
)

SECRET = "calcom-key-7f1c2d9e-DO-NOT-LEAK"
NEW_SECRET = "calcom-key-rotated-44aa-DO-NOT-LEAK"
CALCOM = {"event_types": {"haircut": 101, "blowdry": 102}}
CALDAV = {"calendar_url": "https://dav.example.test/salon/", "username": "salon"}
WEBHOOK = {
    "base_url": "https://crm.example.test/api",
    "availability": {"path": "/openings",
                     "response": {"slots_pointer": "/slots", "start_pointer": "/start"}},
    "book": {"path": "/appointments", "response": {"id_pointer": "/id"}},
}
TARGET = "business:demo-salon"


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(TEST_SECRET_KEY)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path}/cfg.db")
    upgrade(eng)
    yield eng
    eng.dispose()


def add_calcom(engine: Engine, box: SecretBox, *, actor: str = "alice") -> ConnectorConfig:
    return create_config(engine, box, business="demo-salon", kind="calcom", settings=CALCOM,
                         secrets={"api_key": SECRET}, actor=actor)


def audit_rows(engine: Engine) -> list[AuditLog]:
    with Session(engine) as session:
        return list(session.exec(select(AuditLog).order_by(AuditLog.at)))


def raw_row(engine: Engine) -> Any:
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT secrets_encrypted, secret_names, settings FROM connector_config")).one()


# -- encryption at rest and masking ------------------------------------------------------------


def test_secrets_are_encrypted_at_rest(engine: Engine, box: SecretBox, tmp_path: Path) -> None:
    row = add_calcom(engine, box)
    assert row.version == 1 and row.secret_names == ["api_key"]

    encrypted, names, settings = raw_row(engine)
    assert SECRET not in encrypted
    assert box.decrypt(encrypted) == {"api_key": SECRET}
    assert json.loads(Fernet(TEST_SECRET_KEY.encode()).decrypt(encrypted.encode())) == {
        "api_key": SECRET}
    assert json.loads(names) == ["api_key"]
    assert "event_types" in settings  # settings are plain JSON: only secrets are encrypted
    assert resolved_config(engine, box, "demo-salon") == (
        "calcom", {"event_types": {"haircut": 101, "blowdry": 102},
                   "base_url": "https://api.cal.com", "attendee_email_domain": "phone.invalid"},
        {"api_key": SECRET}, 1)

    engine.dispose()  # checkpoint the WAL; then read every file SQLite wrote
    files = sorted(tmp_path.glob("cfg.db*"))
    data = b"".join(p.read_bytes() for p in files)
    assert b"event_types" in data and b"api_key" in data  # the scan sees the table...
    assert SECRET.encode() not in data  # ...and not the secret, in any file, audit included


def test_public_view_shows_secrets_only_as_set(engine: Engine, box: SecretBox) -> None:
    add_calcom(engine, box)
    row = get_config(engine, "demo-salon")
    assert row is not None
    view = public_view(row)
    assert view["secrets"] == {"api_key": "set"}
    assert (view["business"], view["kind"], view["version"], view["updated_by"]) == (
        "demo-salon", "calcom", 1, "alice")
    assert view["settings"]["event_types"] == {"haircut": 101, "blowdry": 102}
    assert SECRET not in repr(view) and "secrets_encrypted" not in view
    assert [r.business for r in list_configs(engine)] == ["demo-salon"]
    assert get_config(engine, "demo-dental") is None
    assert resolved_config(engine, box, "demo-dental") is None


# -- updates -----------------------------------------------------------------------------------


def test_update_merges_secrets(engine: Engine, box: SecretBox) -> None:
    create_config(engine, box, business="demo-salon", kind="webhook", settings=WEBHOOK,
                  secrets={"auth_header_value": f"Bearer {SECRET}",
                           "extra_headers": {"X-Tenant": "t-1"}}, actor="alice")

    # settings only, same server: the stored secrets are kept
    row = update_config(engine, box, business="demo-salon", actor="bob",
                        settings={**WEBHOOK, "base_url": "https://crm.example.test/api/v2"})
    assert row.secret_names == ["auth_header_value", "extra_headers"]
    kind, settings, secrets, version = resolved_config(engine, box, "demo-salon")
    assert (kind, settings["base_url"], version) == (
        "webhook", "https://crm.example.test/api/v2", 2)
    assert secrets == {"auth_header_value": f"Bearer {SECRET}",
                       "extra_headers": {"X-Tenant": "t-1"}}

    # one secret replaced, the other kept; settings untouched when omitted
    update_config(engine, box, business="demo-salon", actor="bob",
                  secrets={"auth_header_value": f"Bearer {NEW_SECRET}"})
    _, settings, secrets, version = resolved_config(engine, box, "demo-salon")
    assert settings["base_url"] == "https://crm.example.test/api/v2" and version == 3
    assert secrets == {"auth_header_value": f"Bearer {NEW_SECRET}",
                       "extra_headers": {"X-Tenant": "t-1"}}

    # null removes one
    row = update_config(engine, box, business="demo-salon", actor="bob",
                        secrets={"extra_headers": None})
    assert row.secret_names == ["auth_header_value"]
    assert public_view(row)["secrets"] == {"auth_header_value": "set"}
    assert resolved_config(engine, box, "demo-salon")[2] == {
        "auth_header_value": f"Bearer {NEW_SECRET}"}

    # removing the last one leaves nothing encrypted at all
    row = update_config(engine, box, business="demo-salon", actor="bob",
                        secrets={"auth_header_value": None})
    assert (row.secret_names, row.secrets_encrypted, row.version) == ([], None, 5)
    assert raw_row(engine)[0] is None


def test_changing_kind_drops_old_secrets(engine: Engine, box: SecretBox) -> None:
    add_calcom(engine, box)
    # the old kind's secret is not carried over (caldav has no api_key: that would be refused)
    row = update_config(engine, box, business="demo-salon", actor="bob", kind="caldav",
                        settings=CALDAV)
    assert (row.kind, row.secret_names, row.secrets_encrypted, row.version) == (
        "caldav", [], None, 2)
    assert resolved_config(engine, box, "demo-salon")[2] == {}

    update_config(engine, box, business="demo-salon", actor="bob",
                  secrets={"password": NEW_SECRET})
    with pytest.raises(ConnectorConfigError) as err:  # back to calcom needs its api_key again
        update_config(engine, box, business="demo-salon", actor="bob", kind="calcom",
                      settings=CALCOM)
    assert [e["loc"] for e in err.value.errors] == [["secrets", "api_key"]]
    row = update_config(engine, box, business="demo-salon", actor="bob", kind="calcom",
                        settings=CALCOM, secrets={"api_key": SECRET})
    assert row.secret_names == ["api_key"]
    assert resolved_config(engine, box, "demo-salon")[2] == {"api_key": SECRET}


def test_version_bumps_on_every_update(engine: Engine, box: SecretBox) -> None:
    created = add_calcom(engine, box)
    versions, stamps = [created.version], [created.updated_at]
    for actor, change in (("bob", {"settings": {"event_types": {"haircut": 7}}}),
                          ("carol", {"secrets": {"api_key": NEW_SECRET}}),
                          ("dave", {})):  # even a no-op update is a new version
        row = update_config(engine, box, business="demo-salon", actor=actor, **change)
        versions.append(row.version)
        stamps.append(row.updated_at)
        assert row.updated_by == actor and row.created_at == created.created_at
    assert versions == [1, 2, 3, 4]
    assert stamps == sorted(stamps) and len(set(stamps)) == 4
    stored = get_config(engine, "demo-salon")
    assert (stored.version, stored.updated_by, stored.settings["event_types"]) == (
        4, "dave", {"haircut": 7})


# -- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "settings", "secrets", "locs"), [
    pytest.param("outlook", {}, {}, [["kind"]], id="unknown-kind"),
    pytest.param("calcom", {**CALCOM, "colour": "red"}, {"api_key": SECRET},
                 [["settings", "colour"]], id="unknown-setting"),
    pytest.param("calcom", CALCOM, {"api_key": SECRET, "token": SECRET},
                 [["secrets", "token"]], id="unknown-secret"),
    pytest.param("calcom", {}, {"api_key": SECRET}, [["settings", "event_types"]],
                 id="missing-setting"),
    pytest.param("calcom", CALCOM, {}, [["secrets", "api_key"]], id="missing-secret"),
    pytest.param("calcom", {}, {}, [["settings", "event_types"], ["secrets", "api_key"]],
                 id="both-sections"),
    pytest.param("caldav", {"calendar_url": "not a url"}, {}, [["settings", "calendar_url"]],
                 id="bad-url"),
    pytest.param("caldav", {"staff_calendars": {"Maria": "ftp://x.test/c/"}}, {},
                 [["settings", "staff_calendars", "Maria"]], id="bad-nested-url"),
    pytest.param("calcom", {"event_types": {"haircut": 0}}, {"api_key": SECRET},
                 [["settings", "event_types", "haircut"]], id="bad-nested-value"),
    pytest.param("webhook", WEBHOOK, {"auth_header_value": f"Bearer {SECRET}\r\nX-Evil: 1"},
                 [["secrets", "auth_header_value"]], id="bad-secret-value"),
    pytest.param("builtin", {f"k{i}": i for i in range(201)}, {}, [["settings"]],
                 id="too-many-fields"),
])
def test_validation_errors_name_the_field(engine: Engine, box: SecretBox, kind: str,
                                          settings: dict, secrets: dict,
                                          locs: list[list[str]]) -> None:
    with pytest.raises(ConnectorConfigError) as err:
        create_config(engine, box, business="demo-salon", kind=kind, settings=settings,
                      secrets=secrets, actor="alice")
    assert [e["loc"] for e in err.value.errors] == locs
    assert all(e["msg"] and e["type"] for e in err.value.errors)
    assert ".".join(locs[0]) in str(err.value)
    assert SECRET not in repr(err.value.errors) and SECRET not in str(err.value)
    assert list_configs(engine) == [] and audit_rows(engine) == []


def test_invalid_update_changes_nothing(engine: Engine, box: SecretBox) -> None:
    add_calcom(engine, box)
    for change, loc in (({"settings": {"event_types": {"haircut": -1}}},
                         ["settings", "event_types", "haircut"]),
                        ({"kind": "outlook"}, ["kind"]),
                        ({"secrets": {"api_key": None}}, ["secrets", "api_key"])):
        with pytest.raises(ConnectorConfigError) as err:
            update_config(engine, box, business="demo-salon", actor="bob", **change)
        assert err.value.errors[0]["loc"] == loc
    assert resolved_config(engine, box, "demo-salon")[2:] == ({"api_key": SECRET}, 1)
    assert [a.action for a in audit_rows(engine)] == ["connector.create"]


def test_exists_and_not_found(engine: Engine, box: SecretBox) -> None:
    add_calcom(engine, box)
    with pytest.raises(ConfigExistsError, match="demo-salon"):
        create_config(engine, box, business="demo-salon", kind="builtin", settings={},
                      secrets={}, actor="bob")
    with pytest.raises(ConfigNotFoundError, match="demo-dental"):
        update_config(engine, box, business="demo-dental", actor="bob", settings={})
    with pytest.raises(ConfigNotFoundError, match="demo-dental"):
        delete_config(engine, business="demo-dental", actor="bob")
    delete_config(engine, business="demo-salon", actor="bob")
    assert get_config(engine, "demo-salon") is None
    with pytest.raises(ConfigNotFoundError):
        delete_config(engine, business="demo-salon", actor="bob")
    # a re-created configuration starts over
    assert add_calcom(engine, box).version == 1
    assert [a.action for a in audit_rows(engine)] == [
        "connector.create", "connector.delete", "connector.create"]


@pytest.mark.parametrize(
    ("kind", "settings", "secrets", "change", "moved"),
    [
        pytest.param("webhook", WEBHOOK, {"auth_header_value": f"Bearer {SECRET}"},
                     {**WEBHOOK, "base_url": "https://evil.example.test/api"}, "base_url",
                     id="webhook-host"),
        pytest.param("caldav", CALDAV, {"password": SECRET},
                     {**CALDAV, "calendar_url": "https://dav.example.test:8443/salon/"},
                     "calendar_url", id="caldav-port"),
        pytest.param("caldav", CALDAV, {"password": SECRET},
                     {**CALDAV, "calendar_url": "http://dav.example.test/salon/"},
                     "calendar_url", id="caldav-scheme"),
        pytest.param("caldav", CALDAV, {"password": SECRET},
                     {**CALDAV, "staff_calendars": {"Maria": "https://evil.example.test/m/"}},
                     "staff_calendars", id="caldav-one-staff-calendar"),
        pytest.param("calcom", CALCOM, {"api_key": SECRET},
                     {**CALCOM, "base_url": "https://cal.evil.example.test"}, "base_url",
                     id="calcom-base-url"),
    ],
)
def test_a_new_server_needs_the_secrets_re_entered(engine: Engine, box: SecretBox, kind,
                                                   settings, secrets, change, moved) -> None:
    create_config(engine, box, business="demo-salon", kind=kind, settings=settings,
                  secrets=secrets, actor="alice")
    with pytest.raises(ConnectorConfigError) as info:
        update_config(engine, box, business="demo-salon", actor="mallory", settings=change)
    (error,) = info.value.errors
    assert error["loc"] == ["secrets"] and error["type"] == "secrets_required"
    assert moved in error["msg"] and all(name in error["msg"] for name in secrets)
    assert resolved_config(engine, box, "demo-salon")[3] == 1  # nothing changed
    assert [a.action for a in audit_rows(engine)] == ["connector.create"]

    # re-entering them is the change an admin who knows them can make
    row = update_config(engine, box, business="demo-salon", actor="bob", settings=change,
                        secrets={name: "re-entered" for name in secrets})
    assert row.version == 2
    assert resolved_config(engine, box, "demo-salon")[2] == {n: "re-entered" for n in secrets}


def test_a_new_server_may_drop_the_secrets_instead(engine: Engine, box: SecretBox) -> None:
    create_config(engine, box, business="demo-salon", kind="caldav", settings=CALDAV,
                  secrets={"password": SECRET}, actor="alice")
    moved = {**CALDAV, "calendar_url": "https://public.example.test/cal/"}
    row = update_config(engine, box, business="demo-salon", actor="bob", settings=moved,
                        secrets={"password": None})
    assert row.secret_names == [] and resolved_config(engine, box, "demo-salon")[2] == {}


def test_the_audit_row_records_old_and_new_settings_values(engine: Engine,
                                                           box: SecretBox) -> None:
    create_config(engine, box, business="demo-salon", kind="caldav",
                  settings={**CALDAV, "holds_url": "https://agent:hunter2@dav.example.test/h/"},
                  secrets={"password": SECRET}, actor="alice")
    update_config(engine, box, business="demo-salon", actor="bob",
                  settings={**CALDAV, "calendar_url": "https://cal.example.test/salon/"},
                  secrets={"password": NEW_SECRET})
    detail = audit_rows(engine)[-1].detail
    assert detail["values"] == {
        "calendar_url": ["https://dav.example.test/salon/", "https://cal.example.test/salon/"],
        "holds_url": ["https://agent:***@dav.example.test/h/", None],
    }
    assert detail["settings"] == ["calendar_url", "holds_url"]
    assert detail["secrets"] == ["password"]
    assert "hunter2" not in json.dumps(detail) and NEW_SECRET not in json.dumps(detail)


def test_every_change_is_audited_without_secret_values(engine: Engine,
                                                      box: SecretBox) -> None:
    add_calcom(engine, box, actor="alice")
    update_config(engine, box, business="demo-salon", actor="bob",
                  settings={"event_types": {"haircut": 101, "blowdry": 103}},
                  secrets={"api_key": NEW_SECRET})
    update_config(engine, box, business="demo-salon", actor="carol", kind="caldav",
                  settings=CALDAV, secrets={"password": SECRET})
    delete_config(engine, business="demo-salon", actor="dave")

    rows = audit_rows(engine)
    assert [(a.actor, a.action, a.target) for a in rows] == [
        ("alice", "connector.create", TARGET), ("bob", "connector.update", TARGET),
        ("carol", "connector.update", TARGET), ("dave", "connector.delete", TARGET)]
    assert rows[0].detail == {"kind": "calcom", "settings": ["event_types"],
                              "secrets": ["api_key"]}
    assert rows[1].detail == {"settings": ["event_types"], "secrets": ["api_key"],
                              "values": {"event_types": [{"haircut": 101, "blowdry": 102},
                                                         {"haircut": 101, "blowdry": 103}]}}
    assert rows[2].detail["kind"] == ["calcom", "caldav"]
    assert rows[2].detail["secrets"] == ["password"]
    assert set(rows[2].detail["settings"]) >= {"calendar_url", "username", "event_types"}
    assert rows[3].detail == {"kind": "caldav"}
    details = json.dumps([a.detail for a in rows])
    assert SECRET not in details and NEW_SECRET not in details
    assert "calcom-key" not in details


# -- keys --------------------------------------------------------------------------------------


def test_a_wrong_key_cannot_read_the_secrets(engine: Engine, box: SecretBox) -> None:
    add_calcom(engine, box)
    other = SecretBox(Fernet.generate_key().decode())
    with pytest.raises(SecretsUnreadableError, match="cannot be decrypted"):
        resolved_config(engine, other, "demo-salon")
    with pytest.raises(SecretsUnreadableError):  # nor merge new secrets into them
        update_config(engine, other, business="demo-salon", actor="bob",
                      secrets={"api_key": NEW_SECRET})
    assert resolved_config(engine, box, "demo-salon")[2:] == ({"api_key": SECRET}, 1)
    # a kind change does not need the old secrets
    update_config(engine, other, business="demo-salon", actor="bob", kind="caldav",
                  settings=CALDAV, secrets={"password": NEW_SECRET})
    assert resolved_config(engine, other, "demo-salon")[2] == {"password": NEW_SECRET}

    token = box.encrypt({"api_key": SECRET})
    tampered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    with pytest.raises(SecretsUnreadableError):
        box.decrypt(tampered)
    with pytest.raises(SecretsUnreadableError):
        box.decrypt("not-a-fernet-token")
    assert box.decrypt(None) == {} and box.decrypt("") == {}


def test_key_rotation(engine: Engine) -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    old = SecretBox(old_key)
    create_config(engine, old, business="demo-salon", kind="calcom", settings=CALCOM,
                  secrets={"api_key": SECRET}, actor="alice")

    rotated = SecretBox(f" {new_key} , {old_key} ,")  # new first: it encrypts; both decrypt
    assert resolved_config(engine, rotated, "demo-salon")[2] == {"api_key": SECRET}
    with pytest.raises(SecretsUnreadableError):
        resolved_config(engine, SecretBox(new_key), "demo-salon")

    fresh = rotated.encrypt({"x": "y"})
    assert SecretBox(new_key).decrypt(fresh) == {"x": "y"}
    with pytest.raises(SecretsUnreadableError):
        old.decrypt(fresh)

    # any update re-encrypts with the new key: afterwards the old one can be dropped
    update_config(engine, rotated, business="demo-salon", actor="bob", settings=CALCOM)
    assert resolved_config(engine, SecretBox(new_key), "demo-salon")[2] == {"api_key": SECRET}
    with pytest.raises(SecretsUnreadableError):
        resolved_config(engine, old, "demo-salon")


@pytest.mark.parametrize("keys", ["", " , ", "not-a-fernet-key", "c2hvcnQ="])
def test_bad_keys_are_refused(keys: str) -> None:
    with pytest.raises(ValueError, match=r"secret key|secret-key"):
        SecretBox(keys)


def test_dev_mode_generates_a_private_key_once(tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(_env_file=None, env="dev", data_dir=tmp_path / "data")
    assert settings.secret_key is None
    with caplog.at_level(logging.WARNING, logger="voice_agent.store.secret_box"):
        first = secret_box_for(settings)
        second = secret_box_for(settings)
    path = tmp_path / "data" / DEV_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = path.read_text().strip()
    Fernet(key.encode())  # a valid key
    assert second.decrypt(first.encrypt({"a": 1})) == {"a": 1}
    assert SecretBox(key).decrypt(second.encrypt({"b": 2})) == {"b": 2}
    assert path.read_text().strip() == key  # reused, not regenerated
    assert [r.getMessage() for r in caplog.records].count(
        f"dev mode: generated a connector-secret key in {path}; set VOICE_AGENT_SECRET_KEY "
        "in production") == 1


def test_a_configured_key_wins_over_the_dev_file(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, env="dev", data_dir=tmp_path, secret_key=TEST_SECRET_KEY)
    token = secret_box_for(settings).encrypt({"a": 1})
    assert SecretBox(TEST_SECRET_KEY).decrypt(token) == {"a": 1}
    assert not (tmp_path / DEV_KEY_FILE).exists()


@pytest.mark.parametrize("env", ["test", "prod"])
def test_outside_dev_a_key_is_required(tmp_path: Path, env: str) -> None:
    with pytest.raises(ValueError, match="VOICE_AGENT_SECRET_KEY is required outside dev"):
        Settings(_env_file=None, env=env, data_dir=tmp_path, twilio_auth_token="real-token")
    # even settings that slipped past validation never fall back to a dev key file
    slipped = Settings(_env_file=None, env="dev", data_dir=tmp_path).model_copy(
        update={"env": env})
    with pytest.raises(ValueError, match="required outside dev"):
        secret_box_for(slipped)
    assert not (tmp_path / DEV_KEY_FILE).exists()


# -- the same CRUD on SQLite and PostgreSQL ----------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_engine(request, tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path}/crud.db" if request.param == "sqlite" else (
        request.getfixturevalue("pg_url"))
    eng = make_engine(url)
    upgrade(eng)
    upgrade(eng)  # idempotent
    yield eng
    eng.dispose()


def test_crud_roundtrip(any_engine: Engine, box: SecretBox) -> None:
    engine = any_engine
    add_calcom(engine, box)
    create_config(engine, box, business="demo-dental", kind="caldav", settings=CALDAV,
                  secrets={"password": NEW_SECRET}, actor="alice")
    with pytest.raises(ConfigExistsError):
        add_calcom(engine, box)
    assert [(r.business, r.kind) for r in list_configs(engine)] == [
        ("demo-dental", "caldav"), ("demo-salon", "calcom")]
    encrypted = [raw_row_for(engine, b) for b in ("demo-salon", "demo-dental")]
    assert all(SECRET not in e and NEW_SECRET not in e for e in encrypted)

    row = update_config(engine, box, business="demo-salon", actor="bob",
                        settings={"event_types": {"haircut": 5}})
    assert (row.version, row.settings["event_types"]) == (2, {"haircut": 5})
    assert resolved_config(engine, box, "demo-salon") == (
        "calcom", row.settings, {"api_key": SECRET}, 2)
    assert public_view(get_config(engine, "demo-dental"))["secrets"] == {"password": "set"}

    delete_config(engine, business="demo-salon", actor="carol")
    assert get_config(engine, "demo-salon") is None
    assert [r.business for r in list_configs(engine)] == ["demo-dental"]
    assert [(a.actor, a.action) for a in audit_rows(engine)] == [
        ("alice", "connector.create"), ("alice", "connector.create"),
        ("bob", "connector.update"), ("carol", "connector.delete")]
    assert SECRET not in json.dumps([a.detail for a in audit_rows(engine)])


def raw_row_for(engine: Engine, business: str) -> str:
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT secrets_encrypted FROM connector_config WHERE business = :b"),
            {"b": business}).scalar_one()
