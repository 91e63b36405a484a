"""What every buffer offers, and the pure parts of its policy.

The promise: a reading appended and committed stays until :meth:`Buffer.mark_published`
removes it (after the broker's PUBACK) or the drop policy discards it and counts why.

Drop policy, when the byte cap is exceeded: the oldest ``SAMPLE`` readings go first; ``EVENT``
readings (door opened, motion seen) are dropped only when no sample is left. Readings older
than the age cap are dropped whatever their kind, but only clock-synced ones (an unsynced
timestamp says nothing about age). Each discarded reading is counted by
:class:`~fieldlink.messages.DropReason`.

Readings in flight are never dropped. The publisher claims (:meth:`Buffer.claim`) the seqs
of each message it hands to MQTT; until :meth:`Buffer.mark_published` (PUBACK) or
:meth:`Buffer.release` (the broker refused the message) neither the byte cap nor the age cap
touches them, because paho re-sends an unacknowledged message after a reconnect: a reading
dropped while in flight would be counted as dropped *and* delivered. So every reading ends
exactly one way, delivered or counted. If the readings in flight alone exceed the byte cap,
the cap is exceeded until their acks arrive; the publisher's window (``inflight`` messages of
at most ``batch_size`` readings) bounds by how much.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

from fieldlink.messages import DropReason, Quality, Reading, ReadingKind

__all__ = [
    "QUALITY_BITS",
    "Buffer",
    "BufferStats",
    "BufferedReading",
    "choose_victims",
    "estimate_size",
    "quality_from_bits",
    "quality_to_bits",
    "seq_ranges",
]

ROW_OVERHEAD_BYTES: Final = 64
"""Estimated storage per reading besides its sensor name and unit (row, index, page slack)."""

QUALITY_BITS: Final = {quality: 1 << index for index, quality in enumerate(Quality)}
_UNSYNCED_BIT: Final = QUALITY_BITS[Quality.CLOCK_UNSYNCED]


def quality_to_bits(quality: Iterable[Quality]) -> int:
    bits = 0
    for flag in quality:
        bits |= QUALITY_BITS[flag]
    return bits


_QUALITY_CACHE: dict[int, frozenset[Quality]] = {}


def quality_from_bits(bits: int) -> frozenset[Quality]:
    cached = _QUALITY_CACHE.get(bits)
    if cached is None:
        cached = frozenset(q for q, bit in QUALITY_BITS.items() if bits & bit)
        _QUALITY_CACHE[bits] = cached
    return cached


def estimate_size(reading: Reading) -> int:
    """Bytes a reading is charged against the byte cap."""
    return ROW_OVERHEAD_BYTES + len(reading.sensor) + len(reading.unit)


def seq_ranges(seqs: Iterable[int]) -> list[tuple[int, int]]:
    """Collapse seqs into inclusive ``(first, last)`` runs.

    >>> seq_ranges([5, 1, 2, 3, 7, 8])
    [(1, 3), (5, 5), (7, 8)]
    """
    runs: list[tuple[int, int]] = []
    for seq in sorted(set(seqs)):
        if runs and runs[-1][1] == seq - 1:
            runs[-1] = (runs[-1][0], seq)
        else:
            runs.append((seq, seq))
    return runs


def choose_victims(
    oldest_first: Iterable[tuple[int, ReadingKind, int]], excess_bytes: int
) -> list[int]:
    """Seqs to drop to free ``excess_bytes``: oldest samples first, then oldest events.

    ``oldest_first`` yields ``(seq, kind, size)`` in seq order. Pure, so the policy is
    tested without storage.

    >>> sample, event = ReadingKind.SAMPLE, ReadingKind.EVENT
    >>> rows = [(1, event, 10), (2, sample, 10), (3, sample, 10)]
    >>> choose_victims(rows, 15)
    [2, 3]
    >>> choose_victims(rows, 25)
    [2, 3, 1]
    """
    if excess_bytes <= 0:
        return []
    events: list[tuple[int, int]] = []
    victims: list[int] = []
    freed = 0
    for seq, kind, size in oldest_first:
        if kind is ReadingKind.EVENT:
            events.append((seq, size))
            continue
        victims.append(seq)
        freed += size
        if freed >= excess_bytes:
            return victims
    for seq, size in events:
        victims.append(seq)
        freed += size
        if freed >= excess_bytes:
            break
    return victims


def is_held(reading: Reading, boot: str, current_boot: str) -> bool:
    """Readings of this run sampled before clock sync wait until they are re-stamped."""
    return boot == current_boot and Quality.CLOCK_UNSYNCED in reading.quality


@dataclass(frozen=True, slots=True)
class BufferedReading:
    """A reading as stored: with the boot id it was stamped with and its charged size."""

    boot_id: str
    reading: Reading
    size: int


@dataclass(frozen=True, slots=True)
class BufferStats:
    depth: int
    """Readings waiting to be published (committed or not)."""
    bytes: int
    """Estimated bytes of those readings (what the byte cap limits)."""
    first_seq: int | None
    last_seq: int | None
    oldest_ts_ns: int | None
    next_seq: int
    """The seq the next appended reading must have at least."""
    unsynced: int
    """Readings of this run still waiting for clock sync to be re-stamped."""
    dropped: Mapping[DropReason, int] = field(default_factory=dict)
    in_flight: int = 0
    """Readings claimed by the publisher and not yet published or released."""
    max_bytes: int = 0
    """The byte cap in force (see :meth:`Buffer.set_max_bytes`)."""


class Buffer(Protocol):
    """Durable store-and-forward queue of one device's readings, ordered by seq.

    ``append`` takes readings whose seqs are increasing and at least :attr:`next_seq`;
    they become visible to :meth:`take` once committed (:meth:`commit`, or
    :meth:`maybe_commit` after the durability window). Readings of the current boot flagged
    ``clock_unsynced`` are held back until :meth:`restamp`.
    """

    @property
    def boot_id(self) -> str: ...

    @property
    def device(self) -> str: ...

    @property
    def next_seq(self) -> int: ...

    def append(self, readings: Sequence[Reading]) -> None: ...

    def commit(self) -> None: ...

    def maybe_commit(self) -> bool:
        """Commit if the durability window has elapsed since the first pending change."""
        ...

    def take(
        self, limit: int, *, after: int = -1, below: int | None = None
    ) -> list[BufferedReading]:
        """Up to ``limit`` committed readings with ``after < seq < below``, oldest first."""
        ...

    def claim(self, seqs: Iterable[int]) -> None:
        """Mark readings as in flight: eviction and expiry skip them until
        :meth:`mark_published` or :meth:`release`."""
        ...

    def release(self, seqs: Iterable[int]) -> None:
        """The message carrying these readings will not be acknowledged (the broker refused
        it): they are ordinary buffered readings again."""
        ...

    def mark_published(self, seqs: Iterable[int]) -> int:
        """Remove acknowledged readings (and release them); returns how many were still
        buffered."""
        ...

    def set_max_bytes(self, max_bytes: int) -> None:
        """Change the byte cap at run time; a smaller cap evicts by the policy at once."""
        ...

    def expire(self, now_ns: int) -> int:
        """Drop clock-synced readings older than the age cap; returns how many."""
        ...

    def restamp(self, offset_ns: int) -> int:
        """Give this run's unsynced readings ``ts_ns = mono_ns + offset_ns``."""
        ...

    def stats(self) -> BufferStats: ...

    def close(self) -> None: ...
