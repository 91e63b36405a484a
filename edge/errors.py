"""The edge agent's exceptions: one hierarchy, each also the matching built-in."""

from __future__ import annotations

from fieldlink.errors import FieldlinkError

__all__ = ["EdgeError", "SensorError", "SeqError", "StorageError"]


class EdgeError(FieldlinkError):
    """Base class of every error the edge agent raises on purpose."""


class SensorError(EdgeError, OSError):
    """A sensor could not be built or read. ``sensor`` names it in the config."""

    def __init__(self, sensor: str, detail: str):
        self.sensor = sensor
        self.detail = detail
        super().__init__(f"sensor {sensor!r}: {detail}")


class StorageError(EdgeError, OSError):
    """The buffer's storage failed in a way its drop policy cannot absorb."""

    def __init__(self, path: str, detail: str):
        self.path = path
        self.detail = detail
        super().__init__(f"buffer {path}: {detail}")


class SeqError(EdgeError, ValueError):
    """Readings were appended with a seq that is not above every seq already used."""

    def __init__(self, seq: int, next_seq: int):
        self.seq = seq
        self.next_seq = next_seq
        super().__init__(f"seq {seq} was already used; the next free seq is {next_seq}")
