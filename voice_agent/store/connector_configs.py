"""Connector configuration per business: which kind, its settings, its encrypted secrets.

The admin API and the ``voice-agent connectors`` CLI both go through these functions, so they
validate, encrypt and audit identically. A business with no row uses the builtin calendar.
Secrets are only ever returned masked (``{"api_key": "set"}``); updates merge into the stored
secrets (a key given as ``null`` is removed) so an admin can change, say, a calendar's path
without re-typing its password, but not the server it goes to: settings that name a new
server need every stored secret re-entered (:mod:`voice_agent.store.secret_destinations`).
Every change writes an :class:`~voice_agent.store.review.AuditLog` row naming the fields that
changed with their old and new (non-secret) values, never a secret. Functions are blocking
(wrap in a thread).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import JSON, Column, Engine
from sqlmodel import Field, Session, SQLModel, col, select

from connectors.registry import get_kind
from voice_agent.store.models import new_id, utcnow
from voice_agent.store.review import AuditLog
from voice_agent.store.secret_box import SecretBox
from voice_agent.store.secret_destinations import audit_value, new_destination_fields

__all__ = [
    "ConfigExistsError",
    "ConfigNotFoundError",
    "ConnectorConfig",
    "ConnectorConfigError",
    "create_config",
    "delete_config",
    "get_config",
    "list_configs",
    "public_view",
    "resolved_config",
    "update_config",
]

MAX_CONFIG_FIELDS = 200


class ConnectorConfig(SQLModel, table=True):
    __tablename__ = "connector_config"

    id: str = Field(default_factory=new_id, primary_key=True)
    business: str = Field(unique=True, max_length=100)
    kind: str = Field(max_length=50)
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    secrets_encrypted: str | None = None
    secret_names: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    updated_by: str = Field(max_length=100)


class ConfigExistsError(Exception):
    pass


class ConfigNotFoundError(Exception):
    pass


class ConnectorConfigError(ValueError):
    """Invalid configuration; ``errors`` are pydantic-style dicts whose ``loc`` starts with
    ``kind``, ``settings`` or ``secrets`` and then names the field."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        where = ", ".join(".".join(str(p) for p in e["loc"]) for e in errors)
        super().__init__(f"invalid connector configuration: {where}")


def _errors(section: str, exc: ValidationError) -> list[dict[str, Any]]:
    return [{"loc": [section, *err["loc"]], "msg": err["msg"], "type": err["type"]}
            for err in exc.errors(include_url=False, include_input=False)]


def validate(kind: str, settings: dict[str, Any], secrets: dict[str, Any]
             ) -> tuple[BaseModel, BaseModel]:
    """Parse both sections with the kind's models, or :class:`ConnectorConfigError`."""
    try:
        spec = get_kind(kind)
    except KeyError as exc:
        raise ConnectorConfigError([{"loc": ["kind"], "msg": str(exc.args[0]),
                                     "type": "value_error"}]) from None
    if len(settings) > MAX_CONFIG_FIELDS or len(secrets) > MAX_CONFIG_FIELDS:
        raise ConnectorConfigError([{"loc": ["settings"], "msg": "too many fields",
                                     "type": "value_error"}])
    errors: list[dict[str, Any]] = []
    parsed: list[BaseModel] = []
    for section, model, data in (("settings", spec.settings_model, settings),
                                 ("secrets", spec.secrets_model, secrets)):
        try:
            parsed.append(model.model_validate(data))
        except ValidationError as exc:
            errors += _errors(section, exc)
    if errors:
        raise ConnectorConfigError(errors)
    return parsed[0], parsed[1]


def public_view(row: ConnectorConfig) -> dict[str, Any]:
    return {
        "business": row.business,
        "kind": row.kind,
        "settings": row.settings,
        "secrets": {name: "set" for name in row.secret_names},
        "version": row.version,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "updated_by": row.updated_by,
    }


def list_configs(engine: Engine) -> list[ConnectorConfig]:
    with Session(engine) as session:
        return list(session.exec(select(ConnectorConfig).order_by(col(ConnectorConfig.business))))


def get_config(engine: Engine, business: str) -> ConnectorConfig | None:
    with Session(engine) as session:
        return session.exec(
            select(ConnectorConfig).where(col(ConnectorConfig.business) == business)
        ).first()


def resolved_config(engine: Engine, box: SecretBox, business: str
                    ) -> tuple[str, dict[str, Any], dict[str, Any], int] | None:
    """(kind, settings, decrypted secrets, version) for building the connector, or None."""
    row = get_config(engine, business)
    if row is None:
        return None
    return row.kind, dict(row.settings), box.decrypt(row.secrets_encrypted), row.version


def _store_secrets(row: ConnectorConfig, box: SecretBox, secrets: dict[str, Any]) -> None:
    clean = {k: v for k, v in secrets.items() if v is not None}
    row.secrets_encrypted = box.encrypt(clean) if clean else None
    row.secret_names = sorted(clean)


def create_config(engine: Engine, box: SecretBox, *, business: str, kind: str,
                  settings: dict[str, Any], secrets: dict[str, Any], actor: str
                  ) -> ConnectorConfig:
    parsed_settings, _ = validate(kind, settings, secrets)
    with Session(engine, expire_on_commit=False) as session:
        if session.exec(select(ConnectorConfig).where(
                col(ConnectorConfig.business) == business)).first() is not None:
            raise ConfigExistsError(f"{business} already has a connector; update or delete it")
        row = ConnectorConfig(business=business, kind=kind, updated_by=actor,
                              settings=parsed_settings.model_dump(mode="json"))
        _store_secrets(row, box, secrets)
        session.add(row)
        session.add(AuditLog(actor=actor, action="connector.create", target=f"business:{business}",
                             detail={"kind": kind, "settings": sorted(settings),
                                     "secrets": row.secret_names}))
        session.commit()
        return row


def update_config(engine: Engine, box: SecretBox, *, business: str, actor: str,
                  kind: str | None = None, settings: dict[str, Any] | None = None,
                  secrets: dict[str, Any] | None = None) -> ConnectorConfig:
    """Change the kind, replace the settings and/or merge secrets; bumps ``version``."""
    with Session(engine, expire_on_commit=False) as session:
        row = session.exec(select(ConnectorConfig).where(
            col(ConnectorConfig.business) == business)).first()
        if row is None:
            raise ConfigNotFoundError(f"{business} has no connector configured")
        new_kind = kind or row.kind
        new_settings = settings if settings is not None else dict(row.settings)
        merged = {} if new_kind != row.kind else box.decrypt(row.secrets_encrypted)
        merged.update(secrets or {})
        merged = {k: v for k, v in merged.items() if v is not None}
        parsed_settings, _ = validate(new_kind, new_settings, merged)
        stored = parsed_settings.model_dump(mode="json")  # compared as stored, defaults filled
        if new_kind == row.kind:
            _require_secrets_for_new_destinations(row, stored, secrets or {})
        fields = sorted(k for k in set(stored) | set(row.settings)
                        if stored.get(k) != row.settings.get(k))
        changed = {
            "kind": [row.kind, new_kind] if new_kind != row.kind else None,
            "settings": fields,
            # settings hold no secrets (those are their own section): old and new values
            "values": {k: [audit_value(row.settings.get(k)), audit_value(stored.get(k))]
                       for k in fields},
            "secrets": sorted(secrets or {}),
        }
        row.kind = new_kind
        row.settings = stored
        _store_secrets(row, box, merged)
        row.version += 1
        row.updated_at = utcnow()
        row.updated_by = actor
        session.add(row)
        session.add(AuditLog(actor=actor, action="connector.update", target=f"business:{business}",
                             detail={k: v for k, v in changed.items() if v}))
        session.commit()
        return row


def _require_secrets_for_new_destinations(row: ConnectorConfig, settings: dict[str, Any],
                                          secrets: dict[str, Any]) -> None:
    """Stored secrets never follow the settings to a server they did not name before: such
    a change must re-enter (or remove, with null) every stored secret."""
    moved = new_destination_fields(row.settings, settings)
    missing = sorted(set(row.secret_names) - set(secrets))
    if moved and missing:
        raise ConnectorConfigError([{
            "loc": ["secrets"], "type": "secrets_required",
            "msg": f"{', '.join(moved)} now point(s) to a server the stored secrets were never "
                   f"sent to; re-enter {', '.join(missing)} with this change",
        }])


def delete_config(engine: Engine, *, business: str, actor: str) -> None:
    with Session(engine) as session:
        row = session.exec(select(ConnectorConfig).where(
            col(ConnectorConfig.business) == business)).first()
        if row is None:
            raise ConfigNotFoundError(f"{business} has no connector configured")
        session.delete(row)
        session.add(AuditLog(actor=actor, action="connector.delete", target=f"business:{business}",
                             detail={"kind": row.kind}))
        session.commit()
