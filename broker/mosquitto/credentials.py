"""Mosquitto password files, written in Python in Mosquitto 2's own hash format.

Mosquitto 2 stores ``username:$7$ITERATIONS$SALT$HASH`` where HASH is PBKDF2-HMAC-SHA512 of
the password (64 bytes) and SALT 12 random bytes, both base64. Writing it here rather than
running ``mosquitto_passwd`` once per device keeps a 10,000-device registry a sub-second job
and needs no binary on the machine that provisions.

>>> line = hash_password("pi-07", "s3cret", salt=bytes(12))
>>> line.startswith("pi-07:$7$101$AAAAAAAAAAAAAAAA$")
True
>>> verify_password(line, "s3cret")
True
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from broker.errors import CredentialError

__all__ = [
    "DEFAULT_ITERATIONS",
    "Credential",
    "generate_password",
    "hash_password",
    "verify_password",
    "write_password_file",
]

DEFAULT_ITERATIONS = 101
"""What ``mosquitto_passwd`` of Mosquitto 2.0 uses; the broker reads the count from each line."""

_SALT_BYTES = 12
_HASH_BYTES = 64


@dataclass(frozen=True, slots=True)
class Credential:
    """A username and its clear-text password, as provisioning hands them out once."""

    username: str
    password: str

    def __repr__(self) -> str:  # never print a password by accident
        return f"Credential(username={self.username!r}, password='***')"


def _check_username(username: str) -> None:
    if not username or len(username) > 65535:
        raise CredentialError(username, "username must be 1-65535 characters")
    bad = sorted({c for c in username if c in ":+#/\n\r\0"})
    if bad:
        # ':' splits the password file; '+', '#' and '/' would turn an ACL %u pattern into a
        # wildcard that grants other devices' topics.
        raise CredentialError(username, f"username may not contain {''.join(bad)!r}")


def generate_password(nbytes: int = 24) -> str:
    """A random URL-safe password (``nbytes`` of entropy)."""
    return secrets.token_urlsafe(nbytes)


def hash_password(
    username: str, password: str, *, iterations: int = DEFAULT_ITERATIONS, salt: bytes | None = None
) -> str:
    """One password-file line for ``username``."""
    _check_username(username)
    if not password or "\n" in password:
        raise CredentialError(username, "password must be non-empty and on one line")
    if iterations < 1:
        raise CredentialError(username, "iterations must be positive")
    salt = os.urandom(_SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, _HASH_BYTES)
    encoded_salt = base64.b64encode(salt).decode()
    encoded_hash = base64.b64encode(digest).decode()
    return f"{username}:$7${iterations}${encoded_salt}${encoded_hash}"


def verify_password(line: str, password: str) -> bool:
    """Whether ``password`` matches a ``$7$`` password-file line (as Mosquitto checks it)."""
    _, _, stored = line.strip().partition(":")
    parts = stored.split("$")
    if len(parts) != 5 or parts[1] != "7":
        return False
    iterations, salt, expected = int(parts[2]), base64.b64decode(parts[3]), parts[4]
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, _HASH_BYTES)
    return hmac.compare_digest(base64.b64encode(digest).decode(), expected)


def write_password_file(
    path: Path, credentials: Iterable[Credential | tuple[str, str]], *, iterations: int = 101
) -> Path:
    """Write a Mosquitto password file (mode 0600) from (username, password) pairs.

    Duplicate usernames are refused: the broker would silently keep only one of them.
    """
    lines: list[str] = []
    seen: set[str] = set()
    for item in credentials:
        username, password = (
            (item.username, item.password) if isinstance(item, Credential) else item
        )
        if username in seen:
            raise CredentialError(username, "duplicate username")
        seen.add(username)
        lines.append(hash_password(username, password, iterations=iterations))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.touch(mode=0o600)
    tmp.write_text("".join(f"{line}\n" for line in lines))
    tmp.chmod(0o600)
    tmp.replace(path)
    return path
