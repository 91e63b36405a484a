"""Ground truth from the simulated agents' buffer files.

The edge tier records every reading it generated in simulation (the buffer file's
``generated`` table, read with ``edge.buffer.read_generated``) and counts every reading its
buffer policy dropped (``edge.buffer.read_counters``). This module is the one seam to that
API: when the installed edge tier predates it, :class:`GroundTruthUnavailableError` says so.
"""

from __future__ import annotations

import importlib
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fieldlink.errors import FieldlinkError
from fieldlink.messages import Reading

__all__ = ["DeviceTruth", "GroundTruthUnavailableError", "buffer_depth", "read_truth"]


class GroundTruthUnavailableError(FieldlinkError, RuntimeError):
    """The edge tier cannot tell what it generated (no simulation record in its API)."""


@dataclass(frozen=True)
class DeviceTruth:
    device: str
    generated: list[Reading]
    dropped: Mapping[str, int]
    """Drop counters by reason, as the agent keeps them."""
    unstored: int
    """Drops that never reached the file (disk full): not in the record either."""

    @property
    def record_drops(self) -> int:
        """Readings in the record that the buffer policy discarded before delivery."""
        return sum(self.dropped.values()) - self.unstored


def _edge_api() -> tuple[Any, Any]:
    module = importlib.import_module("edge.buffer")
    read_counters = getattr(module, "read_counters", None)
    read_generated = getattr(module, "read_generated", None)
    if read_counters is None or read_generated is None:
        raise GroundTruthUnavailableError(
            "the installed edge tier has no simulation record (edge.buffer.read_generated); "
            "merge the edge tier's ground-truth record to replay scenarios"
        )
    return read_counters, read_generated


def read_truth(device: str, buffer_path: Path, *, below_seq: int | None = None) -> DeviceTruth:
    """What ``device`` generated (seqs below ``below_seq`` when given) and dropped."""
    read_counters, read_generated = _edge_api()
    counters = read_counters(buffer_path)
    generated = [r for r in read_generated(buffer_path) if below_seq is None or r.seq < below_seq]
    dropped = {str(getattr(k, "value", k)): int(v) for k, v in counters.dropped.items()}
    return DeviceTruth(device, generated, dropped, int(counters.unstored))


def next_seq(buffer_path: Path) -> int:
    read_counters, _ = _edge_api()
    return int(read_counters(buffer_path).next_seq)


def buffer_depth(buffer_path: Path) -> int | None:
    """Readings waiting in a buffer file right now (read-only; None if unreadable)."""
    try:
        with sqlite3.connect(f"file:{buffer_path}?mode=ro", uri=True, timeout=1) as db:
            (depth,) = db.execute("SELECT count(*) FROM readings").fetchone()
    except sqlite3.Error:
        return None
    return int(depth)
