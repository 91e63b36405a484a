"""An in-memory buffer with the same contract as :class:`SqliteBuffer`: for unit tests only.

It forgets everything when the process ends, so the agent never uses it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from fieldlink.messages import DropReason, Quality, Reading

from ..errors import SeqError
from ._base import BufferedReading, BufferStats, choose_victims, estimate_size, is_held
from ._sqlite import new_boot_id

__all__ = ["MemoryBuffer"]


class MemoryBuffer:
    """Volatile buffer for tests.

    >>> buffer = MemoryBuffer(device="pi-07")
    >>> buffer.append([Reading(device="pi-07", sensor="t", value=1.0, ts_ns=1, seq=0)])
    >>> buffer.commit()
    >>> buffer.stats().depth
    1
    """

    def __init__(
        self,
        *,
        device: str,
        boot_id: str | None = None,
        max_bytes: int = 256 * 1024 * 1024,
        max_age_s: float = 30 * 24 * 3600,
    ):
        self._device = device
        self._boot_id = boot_id or new_boot_id()
        self._max_bytes = max_bytes
        self._max_age_ns = int(max_age_s * 1e9)
        self._items: dict[int, BufferedReading] = {}
        self._next_seq = 0
        self._committed_seq = -1
        self._bytes = 0
        self._dropped: dict[DropReason, int] = {}
        self._claimed: set[int] = set()

    @property
    def boot_id(self) -> str:
        return self._boot_id

    @property
    def device(self) -> str:
        return self._device

    @property
    def next_seq(self) -> int:
        return self._next_seq

    def append(self, readings: Sequence[Reading]) -> None:
        expected = self._next_seq
        for reading in readings:
            if reading.seq < expected:
                raise SeqError(reading.seq, expected)
            expected = reading.seq + 1
        for reading in readings:
            size = estimate_size(reading)
            self._items[reading.seq] = BufferedReading(self._boot_id, reading, size)
            self._bytes += size
        self._next_seq = expected
        self._enforce_cap()

    def _enforce_cap(self) -> None:
        if self._bytes > self._max_bytes:
            excess = self._bytes - self._max_bytes + self._max_bytes // 50
            claimed = self._claimed
            rows = ((s, i.reading.kind, i.size) for s, i in self._items.items() if s not in claimed)
            self._remove(choose_victims(rows, excess), DropReason.BUFFER_FULL)

    def set_max_bytes(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._enforce_cap()

    def claim(self, seqs: Iterable[int]) -> None:
        self._claimed.update(s for s in seqs if s in self._items)

    def release(self, seqs: Iterable[int]) -> None:
        self._claimed.difference_update(seqs)

    def _remove(self, seqs: Iterable[int], reason: DropReason | None) -> int:
        removed = 0
        for seq in seqs:
            item = self._items.pop(seq, None)
            if item is not None:
                removed += 1
                self._bytes -= item.size
        if reason is not None and removed:
            self._dropped[reason] = self._dropped.get(reason, 0) + removed
        return removed

    def commit(self) -> None:
        self._committed_seq = self._next_seq - 1

    def maybe_commit(self) -> bool:
        self.commit()
        return True

    def take(
        self, limit: int, *, after: int = -1, below: int | None = None
    ) -> list[BufferedReading]:
        upper = self._committed_seq if below is None else min(below - 1, self._committed_seq)
        found: list[BufferedReading] = []
        for seq in sorted(self._items):
            if seq <= after or is_held(
                self._items[seq].reading, self._items[seq].boot_id, self._boot_id
            ):
                continue
            if seq > upper or len(found) >= limit:
                break
            found.append(self._items[seq])
        return found

    def mark_published(self, seqs: Iterable[int]) -> int:
        seqs = list(seqs)
        self._claimed.difference_update(seqs)
        return self._remove(seqs, None)

    def expire(self, now_ns: int) -> int:
        cutoff = now_ns - self._max_age_ns
        victims = []
        for seq in sorted(self._items):
            if seq > self._committed_seq:
                break
            reading = self._items[seq].reading
            if not reading.clock_synced or seq in self._claimed:
                continue
            if reading.ts_ns >= cutoff:
                break
            victims.append(seq)
        return self._remove(victims, DropReason.MAX_AGE)

    def restamp(self, offset_ns: int) -> int:
        changed = 0
        for seq, item in list(self._items.items()):
            reading = item.reading
            if item.boot_id != self._boot_id or Quality.CLOCK_UNSYNCED not in reading.quality:
                continue
            if reading.mono_ns is None:
                continue
            quality = (reading.quality - {Quality.CLOCK_UNSYNCED}) | {Quality.RESTAMPED}
            fixed = reading.model_copy(
                update={"ts_ns": max(0, reading.mono_ns + offset_ns), "quality": quality}
            )
            self._items[seq] = BufferedReading(item.boot_id, fixed, item.size)
            changed += 1
        return changed

    def stats(self) -> BufferStats:
        seqs = sorted(self._items)
        unsynced = sum(
            1 for i in self._items.values() if is_held(i.reading, i.boot_id, self._boot_id)
        )
        return BufferStats(
            depth=len(seqs),
            bytes=self._bytes,
            first_seq=seqs[0] if seqs else None,
            last_seq=seqs[-1] if seqs else None,
            oldest_ts_ns=self._items[seqs[0]].reading.ts_ns if seqs else None,
            next_seq=self._next_seq,
            unsynced=unsynced,
            dropped=dict(self._dropped),
            in_flight=len(self._claimed),
            max_bytes=self._max_bytes,
        )

    def close(self) -> None:
        self.commit()
