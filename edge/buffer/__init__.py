"""Durable store-and-forward: every reading is committed here before it is published and
removed only after the broker acknowledged it. See :mod:`edge.buffer._base` for the policy."""

from ._base import Buffer, BufferedReading, BufferStats, choose_victims, estimate_size, seq_ranges
from ._memory import MemoryBuffer
from ._record import BufferCounters, read_counters, read_generated
from ._sqlite import SqliteBuffer, new_boot_id

__all__ = [
    "Buffer",
    "BufferCounters",
    "BufferStats",
    "BufferedReading",
    "MemoryBuffer",
    "SqliteBuffer",
    "choose_victims",
    "estimate_size",
    "new_boot_id",
    "read_counters",
    "read_generated",
    "seq_ranges",
]
