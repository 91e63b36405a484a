"""Private files the broker reads (password file, ACL, keys): written whole or not at all.

The device registry writes its ``registry.json`` (password hashes) the same way.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["write_private_file"]


def write_private_file(path: Path, data: str | bytes) -> Path:
    """Replace ``path`` atomically with ``data``, readable by its owner only (mode 0600).

    The temporary file is created 0600, so a secret is never world-readable, and a reader
    (Mosquitto on SIGHUP) sees either the old file or the new one, never half of it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data.encode() if isinstance(data, str) else data)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(tmp, 0o600)  # an existing leftover keeps its mode through O_TRUNC
    tmp.replace(path)
    return path
