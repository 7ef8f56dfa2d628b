"""Encryption at rest for connector secrets (Fernet: AES-128-CBC + HMAC-SHA256).

The key comes from settings (``VOICE_AGENT_SECRET_KEY``); several comma-separated keys rotate:
the first encrypts, every one decrypts. Outside dev the settings refuse to start without a key;
in dev a key is generated once into ``data_dir/dev-secret.key`` (mode 0600) so a laptop works
with no setup, and a warning says so.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from voice_agent.config import Settings
from voice_agent.store.private_files import private_dir

__all__ = ["SecretBox", "SecretsUnreadableError", "secret_box_for"]

log = logging.getLogger(__name__)
DEV_KEY_FILE = "dev-secret.key"


class SecretsUnreadableError(Exception):
    """Stored secrets were encrypted with a key we no longer have (or were tampered with)."""


class SecretBox:
    def __init__(self, keys: str) -> None:
        parts = [k.strip() for k in keys.split(",") if k.strip()]
        if not parts:
            raise ValueError("no secret key given")
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in parts])
        except ValueError:
            raise ValueError(
                "VOICE_AGENT_SECRET_KEY must be Fernet keys (32 url-safe base64 bytes); "
                "generate one with `voice-agent secret-key`"
            ) from None

    def encrypt(self, secrets: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(secrets, sort_keys=True).encode()).decode()

    def decrypt(self, token: str | None) -> dict[str, Any]:
        if not token:
            return {}
        try:
            return json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken:
            raise SecretsUnreadableError(
                "connector secrets cannot be decrypted with the configured key"
            ) from None


def secret_box_for(settings: Settings) -> SecretBox:
    if settings.secret_key is not None:
        return SecretBox(settings.secret_key.get_secret_value())
    if settings.env != "dev":  # Settings refuses this already; never fall through silently
        raise ValueError("VOICE_AGENT_SECRET_KEY is required outside dev")
    return SecretBox(_dev_key(settings.data_dir / DEV_KEY_FILE))


def _read_key(path: Path) -> str:
    """The key in ``path``; waits briefly while another process is still writing it."""
    for _ in range(50):
        key = path.read_text().strip()
        if key:
            return key
        time.sleep(0.02)
    raise ValueError(f"{path} is empty: delete it to generate a new dev key")


def _dev_key(path: Path) -> str:
    if path.exists():
        return _read_key(path)
    private_dir(path.parent)
    key = Fernet.generate_key().decode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it a moment ago
        return _read_key(path)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    log.warning("dev mode: generated a connector-secret key in %s; set VOICE_AGENT_SECRET_KEY "
                "in production", path)
    return key
