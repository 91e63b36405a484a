"""The exception hierarchy shared by every tier.

Each error subclasses the matching built-in as well as :class:`FieldlinkError`, so callers
can catch either ``FieldlinkError`` (anything fieldlink raised) or the built-in they would
expect from the operation (a bad payload is a ``ValueError``, a missing tool an ``OSError``).
Errors carry their data as attributes; the message is for people.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

__all__ = [
    "ConfigError",
    "DecodeError",
    "DecodeReason",
    "FieldlinkError",
    "TopicError",
]


class FieldlinkError(Exception):
    """Base class of every error fieldlink raises on purpose."""


class ConfigError(FieldlinkError, ValueError):
    """A setting is missing or invalid.

    ``field`` is the dotted name of the offending setting and ``source`` the file (or
    ``"environment"``) it came from, so the message can point at the exact line to fix.
    """

    def __init__(self, message: str, *, field: str | None = None, source: Path | str | None = None):
        self.field = field
        self.source = str(source) if source is not None else None
        where = []
        if self.source:
            where.append(self.source)
        if field:
            where.append(field)
        prefix = ": ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class DecodeReason(StrEnum):
    """Why a payload was refused. The value is what dead-letter records and counters use."""

    OVERSIZED = "oversized"
    MALFORMED = "malformed"
    UNSUPPORTED_VERSION = "unsupported_version"
    INVALID = "invalid"
    WRONG_TYPE = "wrong_type"
    IMPERSONATION = "impersonation"


class DecodeError(FieldlinkError, ValueError):
    """A payload could not be turned into a message.

    Attributes:
        reason: a :class:`DecodeReason`, stable across releases, for counters and the
            dead-letter topic.
        detail: a human-readable explanation (the first validation errors, the size limit...).
        size: the payload's length in bytes.
    """

    def __init__(self, reason: DecodeReason, detail: str, *, size: int):
        self.reason = reason
        self.detail = detail
        self.size = size
        super().__init__(f"{reason.value}: {detail} ({size} bytes)")


class TopicError(FieldlinkError, ValueError):
    """A topic string is not one of fieldlink's topics."""

    def __init__(self, topic: str, detail: str):
        self.topic = topic
        self.detail = detail
        super().__init__(f"{topic!r}: {detail}")
