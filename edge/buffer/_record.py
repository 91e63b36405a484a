"""Read a buffer file's ground truth (the ``generated`` table) without the agent's class.

Opens the file read-only, so it works while the agent runs (one consistent snapshot) and
after it was killed (committed rows only, exactly what the agent would find on restart).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from fieldlink.messages import DropReason, Reading

from ..errors import StorageError
from ._base import quality_from_bits
from ._sqlite import _KINDS

__all__ = ["BufferCounters", "read_counters", "read_generated"]


@dataclass(frozen=True, slots=True)
class BufferCounters:
    """What a buffer file says about the readings it lost, for exact accounting.

    Every reading the agent sampled ends exactly one way: delivered, or counted in
    ``dropped``. ``unstored`` of the ``DISK_FULL`` drops never reached the file at all (the
    disk could not take them; their seqs are skipped), so they are not in the record either:
    ``missing from the record's delivery == sum(dropped.values()) - unstored``.
    """

    device: str
    next_seq: int
    """One above the highest seq the agent committed (or burned)."""
    dropped: Mapping[DropReason, int] = field(default_factory=dict)
    unstored: int = 0
    recorded: int | None = None
    """Readings in the record; ``None`` when the file has no record."""


def _connect(path: Path) -> sqlite3.Connection:
    if not Path(path).exists():
        raise StorageError(str(path), "no such file")
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        db.execute("SELECT count(*) FROM meta").fetchone()
    except sqlite3.DatabaseError as exc:
        raise StorageError(str(path), f"not a fieldlink buffer: {exc}") from exc
    return db


def _has_record(db: sqlite3.Connection) -> bool:
    row = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'generated'")
    return row.fetchone() is not None


def read_counters(path: Path) -> BufferCounters:
    """The drop counters, the next seq and the record's size, from one snapshot.

    >>> import tempfile, pathlib
    >>> from edge.buffer import SqliteBuffer
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "buffer.sqlite3"
    >>> with SqliteBuffer(path, device="pi-07", record=True) as buffer:
    ...     buffer.append([Reading(device="pi-07", sensor="t", value=1.0, ts_ns=1, seq=0)])
    >>> read_counters(path).recorded
    1
    """
    db = _connect(path)
    try:
        db.execute("BEGIN")
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        dropped = {DropReason(r): c for r, c in db.execute("SELECT reason, count FROM drops")}
        max_seq = db.execute("SELECT max(seq) FROM readings").fetchone()[0]
        recorded = None
        if _has_record(db):
            recorded = db.execute("SELECT count(*) FROM generated").fetchone()[0]
        db.execute("COMMIT")
    finally:
        db.close()
    next_seq = max(int(meta.get("next_seq", 0)), 0 if max_seq is None else max_seq + 1)
    return BufferCounters(
        device=str(meta.get("device", "")),
        next_seq=next_seq,
        dropped=dropped,
        unstored=int(meta.get("unstored", 0)),
        recorded=recorded,
    )


def read_generated(path: Path) -> Iterator[Reading]:
    """Every reading in the record, by seq, with its final (re-stamped) time.

    Raises :class:`~edge.errors.StorageError` when the file has no record (the agent did not
    run with ``--simulate`` and ``simulation_record = true``).
    """
    db = _connect(path)
    try:
        if not _has_record(db):
            raise StorageError(str(path), "has no record of generated readings")
        device = db.execute("SELECT value FROM meta WHERE key = 'device'").fetchone()[0]
        rows = db.execute(
            "SELECT seq, kind, sensor, value, unit, ts_ns, mono_ns, quality, synced "
            "FROM generated ORDER BY seq"
        )
        for seq, kind, sensor, value, unit, ts_ns, mono_ns, quality, synced in rows:
            yield Reading.model_construct(
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
            )
    finally:
        db.close()
