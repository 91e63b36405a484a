"""Errors of the broker tier, each also subclassing the matching built-in."""

from __future__ import annotations

from fieldlink.errors import FieldlinkError

__all__ = ["BrokerError", "CredentialError", "TopicSetupError"]


class BrokerError(FieldlinkError):
    """Base class of every error the broker tier raises on purpose."""


class CredentialError(BrokerError, ValueError):
    """A username, password or ACL grant cannot be written safely.

    ``username`` names the offending entry (``None`` for a bare password hash).
    """

    def __init__(self, username: str | None, detail: str):
        self.username = username
        self.detail = detail
        super().__init__(detail if username is None else f"{username!r}: {detail}")


class TopicSetupError(BrokerError, RuntimeError):
    """Kafka refused to create a topic the bridge needs. ``topic`` and ``code`` say which/why."""

    def __init__(self, topic: str, code: int, detail: str):
        self.topic = topic
        self.code = code
        self.detail = detail
        super().__init__(f"cannot create Kafka topic {topic!r}: error {code}: {detail}")
