"""The production buffer: one SQLite file in WAL mode.

Appends join an open transaction that is committed (with ``synchronous=FULL``, so it
survives power loss) once the durability window has passed: one fsync per window instead of
one per reading. Only committed readings are handed to the publisher, so nothing is ever
published that a crash could take back. The next seq and the drop counters live in the same
transactions as the readings, so a restart never reuses a seq.

With ``record=True`` (the simulator's ground truth for the lab's judge) every reading is also
inserted into a ``generated`` table in the same transaction as the buffer row: a reading is in
the record iff it was committed to the buffer, so a crash loses the same readings from both.
That table is never deleted from by publishing, eviction or expiry; it is re-stamped together
with the buffer when the clock syncs. Read it with :func:`edge.buffer.read_generated`.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Final

from fieldlink.messages import DropReason, Quality, Reading, ReadingKind

from ..errors import SeqError, StorageError
from ._base import (
    QUALITY_BITS,
    BufferedReading,
    BufferStats,
    choose_victims,
    estimate_size,
    quality_from_bits,
    quality_to_bits,
    seq_ranges,
)

__all__ = ["SqliteBuffer"]

logger = logging.getLogger(__name__)

_SQLITE_FULL: Final = 13
_UNSYNCED: Final = QUALITY_BITS[Quality.CLOCK_UNSYNCED]
_RESTAMPED: Final = QUALITY_BITS[Quality.RESTAMPED]
_KINDS: Final = (ReadingKind.SAMPLE, ReadingKind.EVENT)
_KIND_CODE: Final = {ReadingKind.SAMPLE: 0, ReadingKind.EVENT: 1}
_EVICT_HEADROOM: Final = 0.02
"""When the cap is hit, free 2% more than needed, so a full buffer does not evict per append."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS boots (id INTEGER PRIMARY KEY, boot_id TEXT UNIQUE NOT NULL);
CREATE TABLE IF NOT EXISTS drops (reason TEXT PRIMARY KEY, count INTEGER NOT NULL)
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS readings (
    seq INTEGER PRIMARY KEY,
    boot INTEGER NOT NULL,
    kind INTEGER NOT NULL,
    sensor TEXT NOT NULL,
    value REAL,
    unit TEXT NOT NULL,
    ts_ns INTEGER NOT NULL,
    mono_ns INTEGER,
    quality INTEGER NOT NULL,
    synced INTEGER NOT NULL,
    size INTEGER NOT NULL
);
"""

_RECORD_SCHEMA = """
CREATE TABLE IF NOT EXISTS generated (
    seq INTEGER PRIMARY KEY,
    boot INTEGER NOT NULL,
    kind INTEGER NOT NULL,
    sensor TEXT NOT NULL,
    value REAL,
    unit TEXT NOT NULL,
    ts_ns INTEGER NOT NULL,
    mono_ns INTEGER,
    quality INTEGER NOT NULL,
    synced INTEGER NOT NULL
);
"""


def new_boot_id() -> str:
    """A fresh random boot id (32 hex digits)."""
    return secrets.token_hex(16)


class SqliteBuffer:
    """Durable, capped buffer of one device's readings.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "buffer.sqlite3"
    >>> buffer = SqliteBuffer(path, device="pi-07", durability_ms=0)
    >>> buffer.append([Reading(device="pi-07", sensor="t", value=1.0, ts_ns=1, seq=0)])
    >>> [item.reading.seq for item in buffer.take(10)]
    [0]
    >>> buffer.close()
    """

    def __init__(
        self,
        path: Path,
        *,
        device: str,
        boot_id: str | None = None,
        max_bytes: int = 256 * 1024 * 1024,
        max_age_s: float = 30 * 24 * 3600,
        durability_ms: int = 200,
        record: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self._path = Path(path)
        self._device = device
        self._boot_id = boot_id or new_boot_id()
        self._max_bytes = max_bytes
        self._max_age_ns = int(max_age_s * 1e9)
        self._window_s = durability_ms / 1000
        self._monotonic = monotonic
        self._record = record
        self._claimed: set[int] = set()
        self._settling: set[int] = set()
        """Published seqs whose deletion is not committed yet: re-deleted if rolled back."""
        self._path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            self._db.executescript(_SCHEMA + (_RECORD_SCHEMA if record else ""))
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._load()
        except sqlite3.DatabaseError as exc:
            raise StorageError(str(self._path), f"cannot open: {exc}") from exc
        self._pending_since: float | None = None
        self._pending: list[Reading] = []

    # -- opening -------------------------------------------------------------------------

    def _load(self) -> None:
        db = self._db
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        stored_device = meta.get("device")
        if stored_device is not None and stored_device != self._device:
            raise StorageError(
                str(self._path), f"belongs to device {stored_device!r}, not {self._device!r}"
            )
        max_seq = db.execute("SELECT max(seq) FROM readings").fetchone()[0]
        self._next_seq = max(int(meta.get("next_seq", 0)), -1 if max_seq is None else max_seq + 1)
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT OR REPLACE INTO meta VALUES ('device', ?)", (self._device,))
        db.execute("INSERT OR IGNORE INTO boots (boot_id) VALUES (?)", (self._boot_id,))
        db.execute("COMMIT")
        self._boots = {row[0]: row[1] for row in db.execute("SELECT id, boot_id FROM boots")}
        self._boot = next(k for k, v in self._boots.items() if v == self._boot_id)
        self._dropped = {
            DropReason(reason): count
            for reason, count in db.execute("SELECT reason, count FROM drops")
        }
        depth, total = db.execute(
            "SELECT count(*), coalesce(sum(size), 0) FROM readings"
        ).fetchone()
        self._depth: int = depth
        self._bytes: int = total
        self._committed_seq = self._next_seq - 1
        self._in_tx = False
        self._seq_dirty = False
        self._unrecorded_disk_full = 0
        self._unstored = int(meta.get("unstored", 0))

    # -- properties ----------------------------------------------------------------------

    @property
    def boot_id(self) -> str:
        return self._boot_id

    @property
    def device(self) -> str:
        return self._device

    @property
    def next_seq(self) -> int:
        return self._next_seq

    @property
    def path(self) -> Path:
        return self._path

    @property
    def committed_seq(self) -> int:
        """Highest seq whose append is committed (durable)."""
        return self._committed_seq

    @property
    def max_bytes(self) -> int:
        return self._max_bytes

    # -- writing -------------------------------------------------------------------------

    def _begin(self) -> None:
        if not self._in_tx:
            self._db.execute("BEGIN IMMEDIATE")
            self._in_tx = True
            self._pending_since = self._monotonic()
            if self._settling:  # a rollback brought back readings the broker already has
                self._remove(self._settling)

    def append(self, readings: Sequence[Reading]) -> None:
        if not readings:
            return
        expected = self._next_seq
        for reading in readings:
            if reading.seq < expected:
                raise SeqError(reading.seq, expected)
            expected = reading.seq + 1
        rows = self._rows(readings)
        try:
            self._insert(rows, expected)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != _SQLITE_FULL:
                raise StorageError(str(self._path), f"append failed: {exc}") from exc
            self._disk_full(readings, expected)
            return
        self._pending.extend(readings)
        self._next_seq = expected
        self._depth += len(rows)
        self._bytes += sum(row[-1] for row in rows)
        if self._bytes > self._max_bytes:
            self._evict(self._bytes - self._max_bytes, DropReason.BUFFER_FULL)
        self.maybe_commit()

    def _insert(self, rows: list[tuple[Any, ...]], next_seq: int) -> None:
        self._begin()
        self._db.executemany("INSERT INTO readings VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
        if self._record:
            self._db.executemany(
                "INSERT INTO generated VALUES (?,?,?,?,?,?,?,?,?,?)", [row[:-1] for row in rows]
            )
        self._seq_dirty = True

    def _disk_full(self, readings: Sequence[Reading], next_seq: int) -> None:
        """The file system (or ``max_page_count``) is full: drop the oldest samples by the
        policy and retry once; if that fails too, count the readings as dropped. Never raise.
        """
        logger.warning("buffer %s: disk full; dropping the oldest samples", self._path)
        pending = [*self._pending, *readings]
        self._rollback()
        self._reload_counts()  # back to what is committed
        need = sum(estimate_size(r) for r in pending) * 2 + self._bytes // 20
        try:
            self._evict(need, DropReason.DISK_FULL)
            self._insert(self._rows(pending), next_seq)
            self._next_seq = next_seq
            self._commit_tx()
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != _SQLITE_FULL:
                raise StorageError(str(self._path), f"append failed: {exc}") from exc
            self._rollback()
            self._reload_counts()
            self._unrecorded_disk_full += len(pending)
            self._next_seq = next_seq  # burned: this run never reuses them
            logger.error(  # noqa: TRY400 - the cause is the disk, not a bug; no traceback
                "buffer %s: still full; %d readings dropped", self._path, len(pending)
            )
            return
        self._reload_counts()

    def _rows(self, readings: Sequence[Reading]) -> list[tuple[Any, ...]]:
        boot = self._boot
        return [
            (
                r.seq,
                boot,
                _KIND_CODE[r.kind],
                r.sensor,
                r.value,
                r.unit,
                r.ts_ns,
                r.mono_ns,
                quality_to_bits(r.quality),
                1 if r.clock_synced else 0,
                estimate_size(r),
            )
            for r in readings
        ]

    def _reload_counts(self) -> None:
        depth, total = self._db.execute(
            "SELECT count(*), coalesce(sum(size), 0) FROM readings"
        ).fetchone()
        self._depth, self._bytes = depth, total
        self._dropped = {
            DropReason(reason): count
            for reason, count in self._db.execute("SELECT reason, count FROM drops")
        }

    def _rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")
        self._in_tx = False
        self._pending_since = None
        self._pending = []

    def _evict(self, excess: int, reason: DropReason) -> None:
        headroom = self._max_bytes if reason is DropReason.BUFFER_FULL else 0
        target = excess + int(headroom * _EVICT_HEADROOM)
        self._begin()  # first, so readings a rollback brought back are gone again
        keep = self._claimed
        cursor = self._db.execute("SELECT seq, kind, size FROM readings ORDER BY seq")
        victims = choose_victims(
            ((seq, _KINDS[kind], size) for seq, kind, size in cursor if seq not in keep), target
        )
        cursor.close()
        self._delete(victims, reason)

    def _delete(self, seqs: Iterable[int], reason: DropReason | None) -> int:
        self._begin()
        removed = self._remove(seqs)
        if reason is not None and removed:
            self._dropped[reason] = self._dropped.get(reason, 0) + removed
            self._db.execute(
                "INSERT OR REPLACE INTO drops VALUES (?, ?)", (reason.value, self._dropped[reason])
            )
            logger.warning("buffer %s: dropped %d readings (%s)", self._path, removed, reason)
        return removed

    def _remove(self, seqs: Iterable[int]) -> int:
        """Delete rows inside the open transaction; counts exactly the rows that existed."""
        removed = freed = 0
        for first, last in seq_ranges(seqs):
            for (size,) in self._db.execute(
                "DELETE FROM readings WHERE seq BETWEEN ? AND ? RETURNING size", (first, last)
            ).fetchall():
                removed += 1
                freed += size
        self._depth -= removed
        self._bytes -= freed
        return removed

    def commit(self) -> None:
        try:
            self._commit_tx()
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != _SQLITE_FULL:
                raise StorageError(str(self._path), f"commit failed: {exc}") from exc
            pending = self._pending
            self._rollback()
            self._reload_counts()
            if pending:
                self._disk_full(pending, self._next_seq)

    def _commit_tx(self) -> None:
        if self._unrecorded_disk_full:
            self._begin()
        if self._in_tx:
            if self._seq_dirty:  # in the same transaction as the readings that used the seqs
                self._db.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('next_seq', ?)", (self._next_seq,)
                )
            unrecorded = self._unrecorded_disk_full
            if unrecorded:  # drops counted while the disk was too full to record them
                total = self._dropped.get(DropReason.DISK_FULL, 0) + unrecorded
                self._db.execute(
                    "INSERT OR REPLACE INTO drops VALUES (?, ?)",
                    (DropReason.DISK_FULL.value, total),
                )
                self._db.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('unstored', ?)",
                    (self._unstored + unrecorded,),
                )
            self._db.execute("COMMIT")
            self._seq_dirty = False
            self._settling.clear()
            if unrecorded:
                self._dropped[DropReason.DISK_FULL] = total
                self._unstored += unrecorded
                self._unrecorded_disk_full = 0
            self._in_tx = False
        self._pending_since = None
        self._pending = []
        self._committed_seq = self._next_seq - 1

    def maybe_commit(self) -> bool:
        since = self._pending_since
        if since is None or self._monotonic() - since < self._window_s:
            return False
        self.commit()
        return True

    def claim(self, seqs: Iterable[int]) -> None:
        self._claimed.update(seqs)

    def release(self, seqs: Iterable[int]) -> None:
        self._claimed.difference_update(seqs)

    def mark_published(self, seqs: Iterable[int]) -> int:
        seqs = list(seqs)
        self._claimed.difference_update(seqs)
        removed = self._delete(seqs, None)
        self._settling.update(seqs)
        self.maybe_commit()
        return removed

    def set_max_bytes(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        if self._bytes > max_bytes:
            self._evict(self._bytes - max_bytes, DropReason.BUFFER_FULL)
        self.maybe_commit()

    def expire(self, now_ns: int) -> int:
        cutoff = now_ns - self._max_age_ns
        victims: list[int] = []
        cursor = self._db.execute(
            "SELECT seq, ts_ns, synced FROM readings WHERE seq <= ? ORDER BY seq",
            (self._committed_seq,),
        )
        keep = self._claimed
        for seq, ts_ns, synced in cursor:
            if not synced or seq in keep:
                continue
            if ts_ns >= cutoff:
                break
            victims.append(seq)
        cursor.close()
        removed = self._delete(victims, DropReason.MAX_AGE) if victims else 0
        self.maybe_commit()
        return removed

    def restamp(self, offset_ns: int) -> int:
        self._begin()
        tables = ("readings", "generated") if self._record else ("readings",)
        changed = 0
        for table in tables:
            updated = self._db.execute(
                f"UPDATE {table} SET ts_ns = max(0, mono_ns + ?), "  # noqa: S608 - our names
                "quality = (quality & ~?) | ? WHERE boot = ? AND quality & ? "
                "AND mono_ns IS NOT NULL",
                (offset_ns, _UNSYNCED, _RESTAMPED, self._boot, _UNSYNCED),
            ).rowcount
            if table == "readings":
                changed = updated
        self.commit()
        return changed

    # -- reading -------------------------------------------------------------------------

    def take(
        self, limit: int, *, after: int = -1, below: int | None = None
    ) -> list[BufferedReading]:
        upper = self._committed_seq if below is None else min(below - 1, self._committed_seq)
        rows = self._db.execute(
            "SELECT seq, boot, kind, sensor, value, unit, ts_ns, mono_ns, quality, synced, size "
            "FROM readings WHERE seq > ? AND seq <= ? AND NOT (boot = ? AND quality & ?) "
            "ORDER BY seq LIMIT ?",
            (after, upper, self._boot, _UNSYNCED, limit),
        ).fetchall()
        device = self._device
        boots = self._boots
        construct = Reading.model_construct
        return [
            BufferedReading(
                boots[boot],
                construct(
                    device=device,
                    sensor=sensor,
                    value=value,
                    unit=unit,
                    ts_ns=ts_ns,
                    mono_ns=mono_ns,
                    seq=seq,
                    kind=_KINDS[kind],
                    quality=quality_from_bits(quality),
                    clock_synced=bool(synced),
                ),
                size,
            )
            for seq, boot, kind, sensor, value, unit, ts_ns, mono_ns, quality, synced, size in rows
        ]

    def stats(self) -> BufferStats:
        first = self._db.execute("SELECT seq, ts_ns FROM readings ORDER BY seq LIMIT 1").fetchone()
        last = self._db.execute("SELECT max(seq) FROM readings").fetchone()[0]
        unsynced = self._db.execute(
            "SELECT count(*) FROM readings WHERE boot = ? AND quality & ?",
            (self._boot, _UNSYNCED),
        ).fetchone()[0]
        return BufferStats(
            depth=self._depth,
            bytes=self._bytes,
            first_seq=None if first is None else first[0],
            last_seq=last,
            oldest_ts_ns=None if first is None else first[1],
            next_seq=self._next_seq,
            unsynced=unsynced,
            dropped=self._dropped_now(),
            in_flight=len(self._claimed),
            max_bytes=self._max_bytes,
        )

    def _dropped_now(self) -> dict[DropReason, int]:
        dropped = dict(self._dropped)
        if self._unrecorded_disk_full:
            reason = DropReason.DISK_FULL
            dropped[reason] = dropped.get(reason, 0) + self._unrecorded_disk_full
        return dropped

    def integrity_check(self) -> str:
        """SQLite's own verdict on the file: ``"ok"`` when it is not corrupt."""
        return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])

    def close(self) -> None:
        try:
            self.commit()
        finally:
            self._db.close()

    def __enter__(self) -> SqliteBuffer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
