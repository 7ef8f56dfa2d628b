"""Files only this service's user may read: the database, recordings, keys, logs.

Directories are created 0700 and files 0600, whatever the umask; an existing data directory or
file is tightened to the same. (``voice-agent serve`` also sets a 0077 umask, so files that
libraries create on their own, SQLite's ``-wal``/``-shm`` or sidecar logs, start private too.)
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DIR_MODE", "FILE_MODE", "PRIVATE_UMASK", "private_dir", "private_file"]

DIR_MODE = 0o700
FILE_MODE = 0o600
PRIVATE_UMASK = 0o077


def private_dir(path: Path) -> Path:
    """``path`` (and missing parents) as a directory only the owner may enter."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(path, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """``path`` exists (empty when new) and only the owner may read or write it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    os.close(fd)
    os.chmod(path, FILE_MODE)
    return path
