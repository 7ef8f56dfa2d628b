"""Which connector kinds exist, how their configuration is validated, and how one is built.

Every connector module exposes ``KIND``: a :class:`ConnectorKind` with a pydantic model for
its settings (stored as plain JSON) and one for its secrets (stored Fernet-encrypted, never
returned by the API). Both models forbid unknown fields, so a malformed configuration is
refused with the offending field named (the admin API turns that into a 422).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine

from connectors.base import Connector
from connectors.schedule import Business

__all__ = [
    "KIND_MODULES",
    "BuildContext",
    "ConnectorKind",
    "NoSecrets",
    "StrictModel",
    "build_connector",
    "get_kind",
    "kind_names",
]

# kind name -> module holding its ``KIND`` (imported on first use: no provider SDK cost
# for kinds nobody configured)
KIND_MODULES: dict[str, str] = {
    "builtin": "connectors.builtin",
    "caldav": "connectors.caldav",
    "calcom": "connectors.calcom",
    "google_calendar": "connectors.google_calendar",
    "webhook": "connectors.webhook",
}


class StrictModel(BaseModel):
    """Base of connector settings / secrets models: unknown fields are an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoSecrets(StrictModel):
    pass


@dataclass(frozen=True, slots=True)
class BuildContext:
    """What a connector may need from the host besides its own configuration."""

    business: Business
    engine: Engine | None = None  # the application database (the builtin calendar lives there)
    transport: httpx.AsyncBaseTransport | None = None  # tests: httpx.MockTransport
    timeout_s: float = 10.0  # HTTP-level timeout; the resilience layer has its own per attempt


@dataclass(frozen=True, slots=True)
class ConnectorKind:
    name: str
    description: str
    settings_model: type[StrictModel]
    secrets_model: type[StrictModel]
    build: Callable[[BuildContext, Any, Any], Connector]

    def validate(
        self, settings: dict[str, Any], secrets: dict[str, Any]
    ) -> tuple[StrictModel, StrictModel]:
        """Both models, or :class:`pydantic.ValidationError` naming the bad field."""
        return (self.settings_model.model_validate(settings),
                self.secrets_model.model_validate(secrets))


def kind_names() -> list[str]:
    return list(KIND_MODULES)


def get_kind(name: str) -> ConnectorKind:
    """The kind called ``name``; ``KeyError`` (with the known names) when there is none."""
    module = KIND_MODULES.get(name)
    if module is None:
        raise KeyError(f"unknown connector kind {name!r} (known: {', '.join(KIND_MODULES)})")
    kind = importlib.import_module(module).KIND
    assert isinstance(kind, ConnectorKind)
    return kind


def build_connector(
    name: str, ctx: BuildContext, settings: dict[str, Any], secrets: dict[str, Any]
) -> Connector:
    kind = get_kind(name)
    parsed_settings, parsed_secrets = kind.validate(settings, secrets)
    return kind.build(ctx, parsed_settings, parsed_secrets)
