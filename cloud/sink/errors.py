"""Errors of the InfluxDB sink."""

from __future__ import annotations

from fieldlink.errors import FieldlinkError

__all__ = ["SinkError", "SinkRejectedError"]


class SinkError(FieldlinkError, RuntimeError):
    """The sink could not do its job (for example, create its buckets)."""


class SinkRejectedError(SinkError, ValueError):
    """InfluxDB refused a write as invalid (HTTP 4xx): retrying cannot help.

    ``status`` is the HTTP status and ``bucket`` where the write was going.
    """

    def __init__(self, bucket: str, status: int, detail: str):
        self.bucket = bucket
        self.status = status
        self.detail = detail
        super().__init__(f"InfluxDB refused a write to {bucket!r}: HTTP {status}: {detail}")
