"""The environment variable names the app's Settings really read (voice_agent/config.py)."""

from __future__ import annotations

from pydantic import AliasChoices

from voice_agent.config import Settings


def setting_env_names() -> set[str]:
    prefix = Settings.model_config.get("env_prefix", "")
    names: set[str] = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names |= {str(choice) for choice in alias.choices}
        elif isinstance(alias, str):
            names.add(alias)
        else:
            names.add(f"{prefix}{name}".upper())
    return names
