"""Mosquitto password files, written in Python in Mosquitto 2's own hash format.

Mosquitto 2 stores ``username:$7$ITERATIONS$SALT$HASH`` where HASH is PBKDF2-HMAC-SHA512 of
the password (64 bytes) and SALT 12 random bytes, both base64. Writing it here rather than
running ``mosquitto_passwd`` once per device keeps a 10,000-device registry a sub-second job
and needs no binary on the machine that provisions. This is the one implementation of the
format: the firmware tier's device registry keeps :func:`password_hash` values and writes
them back with :func:`password_line` and :func:`write_password_lines`.

>>> stored = password_hash("s3cret", salt=bytes(12))
>>> stored.startswith("$7$101$AAAAAAAAAAAAAAAA$")
True
>>> line = hash_password("pi-07", "s3cret", salt=bytes(12))
>>> line == f"pi-07:{stored}"
True
>>> verify_password(line, "s3cret"), verify_password(stored, "s3cret")
(True, True)
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

from ._files import write_private_file

__all__ = [
    "DEFAULT_ITERATIONS",
    "Credential",
    "generate_password",
    "hash_password",
    "password_hash",
    "password_line",
    "verify_password",
    "write_password_file",
    "write_password_lines",
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


def _derive(password: str, iterations: int, salt: bytes | None, username: str | None) -> str:
    if not password or any(c in password for c in "\r\n"):
        raise CredentialError(username, "password must be non-empty and on one line")
    if iterations < 1:
        raise CredentialError(username, "iterations must be positive")
    salt = os.urandom(_SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, _HASH_BYTES)
    encoded_salt = base64.b64encode(salt).decode()
    encoded_hash = base64.b64encode(digest).decode()
    return f"$7${iterations}${encoded_salt}${encoded_hash}"


def password_hash(
    password: str, *, iterations: int = DEFAULT_ITERATIONS, salt: bytes | None = None
) -> str:
    """The ``$7$`` hash of ``password``: what a password-file line holds after the colon."""
    return _derive(password, iterations, salt, None)


def password_line(username: str, stored_hash: str) -> str:
    """The password-file line of ``username`` for an already computed ``$7$`` hash."""
    _check_username(username)
    if not stored_hash.startswith("$7$") or any(c in stored_hash for c in ":\r\n"):
        raise CredentialError(username, "not a Mosquitto $7$ password hash")
    return f"{username}:{stored_hash}"


def hash_password(
    username: str, password: str, *, iterations: int = DEFAULT_ITERATIONS, salt: bytes | None = None
) -> str:
    """One password-file line for ``username``."""
    _check_username(username)
    return password_line(username, _derive(password, iterations, salt, username))


def verify_password(stored: str, password: str) -> bool:
    """Whether ``password`` matches ``stored`` (as Mosquitto checks it).

    ``stored`` is a whole password-file line (``user:$7$...``) or a bare ``$7$`` hash; a
    hash never holds a ``:`` (base64) and a username cannot, so the last ``:`` splits them.
    Anything unparsable matches nothing.
    """
    parts = stored.strip().rpartition(":")[2].split("$")
    if len(parts) != 5 or parts[0] or parts[1] != "7":
        return False
    try:
        iterations, salt = int(parts[2]), base64.b64decode(parts[3], validate=True)
    except ValueError:  # binascii.Error is a ValueError
        return False
    if iterations < 1:
        return False
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, _HASH_BYTES)
    return hmac.compare_digest(base64.b64encode(digest).decode(), parts[4])


def write_password_lines(path: Path, lines: Iterable[str]) -> Path:
    """Write ready password-file lines to ``path`` (mode 0600, replaced atomically).

    Duplicate usernames are refused: the broker would silently keep only one of them.
    """
    seen: set[str] = set()
    text: list[str] = []
    for line in lines:
        username = line.partition(":")[0]
        if username in seen:
            raise CredentialError(username, "duplicate username")
        seen.add(username)
        text.append(f"{line}\n")
    return write_private_file(path, "".join(text))


def write_password_file(
    path: Path,
    credentials: Iterable[Credential | tuple[str, str]],
    *,
    iterations: int = DEFAULT_ITERATIONS,
) -> Path:
    """Write a Mosquitto password file (mode 0600) from (username, password) pairs.

    Duplicate usernames are refused: the broker would silently keep only one of them.
    """
    pairs = (
        (item.username, item.password) if isinstance(item, Credential) else item
        for item in credentials
    )
    return write_password_lines(
        path, (hash_password(user, pw, iterations=iterations) for user, pw in pairs)
    )
