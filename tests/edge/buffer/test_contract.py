"""One contract, run against every buffer implementation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge.buffer import Buffer, MemoryBuffer, SqliteBuffer
from edge.errors import SeqError
from fieldlink.messages import DropReason, Quality, Reading, ReadingKind

pytestmark = pytest.mark.unit

DEVICE = "pi-07"
Factory = Callable[..., Buffer]


@pytest.fixture(params=["sqlite", "memory"])
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    opened: list[Buffer] = []

    def factory(**kwargs: object) -> Buffer:
        buffer: Buffer
        if request.param == "sqlite":
            kwargs.setdefault("durability_ms", 60_000)  # commits only when the test says so
            buffer = SqliteBuffer(tmp_path / "b.sqlite3", device=DEVICE, **kwargs)  # type: ignore[arg-type]
        else:
            buffer = MemoryBuffer(device=DEVICE, **kwargs)  # type: ignore[arg-type]
        opened.append(buffer)
        return buffer

    yield factory
    for buffer in opened:
        buffer.close()


def reading(
    seq: int, *, kind: ReadingKind = ReadingKind.SAMPLE, ts_ns: int = 0, **kw: object
) -> Reading:
    return Reading(
        device=DEVICE,
        sensor="temp",
        value=float(seq),
        unit="degC",
        ts_ns=ts_ns or 10**18 + seq,
        seq=seq,
        kind=kind,
        **kw,  # type: ignore[arg-type]
    )


def seqs(buffer: Buffer, **kw: int) -> list[int]:
    return [item.reading.seq for item in buffer.take(10_000, **kw)]


def test_committed_readings_come_back_oldest_first_and_intact(make: Factory) -> None:
    buffer = make()
    readings = [reading(s) for s in range(5)]
    buffer.append(readings)
    buffer.commit()
    taken = buffer.take(10)
    assert [item.reading for item in taken] == readings
    assert {item.boot_id for item in taken} == {buffer.boot_id}


def test_uncommitted_readings_are_not_taken(make: Factory) -> None:
    buffer = make()
    buffer.append([reading(0)])
    assert seqs(buffer) == []
    assert buffer.stats().depth == 1
    buffer.commit()
    assert seqs(buffer) == [0]


def test_take_window_and_limit(make: Factory) -> None:
    buffer = make()
    buffer.append([reading(s) for s in range(10)])
    buffer.commit()
    assert seqs(buffer, after=3, below=7) == [4, 5, 6]
    assert [i.reading.seq for i in buffer.take(2, after=5)] == [6, 7]


def test_seqs_must_increase(make: Factory) -> None:
    buffer = make()
    buffer.append([reading(0), reading(5)])
    assert buffer.next_seq == 6
    with pytest.raises(SeqError):
        buffer.append([reading(5)])
    with pytest.raises(SeqError):
        buffer.append([reading(8), reading(7)])


def test_mark_published_removes_only_those(make: Factory) -> None:
    buffer = make()
    buffer.append([reading(s) for s in range(6)])
    buffer.commit()
    assert buffer.mark_published([1, 2, 4, 99]) == 3
    buffer.commit()
    assert seqs(buffer) == [0, 3, 5]
    stats = buffer.stats()
    assert (stats.depth, stats.first_seq, stats.last_seq, stats.next_seq) == (3, 0, 5, 6)


def test_byte_cap_drops_oldest_samples_first_and_counts_them(make: Factory) -> None:
    buffer = make(max_bytes=64 * 1024)
    size = 64 + len("temp") + len("degC")
    events = [reading(s, kind=ReadingKind.EVENT) for s in range(10)]
    buffer.append(events)
    total = 2_000
    buffer.append([reading(s) for s in range(10, 10 + total)])
    buffer.commit()
    stats = buffer.stats()
    kept = seqs(buffer)
    assert stats.bytes <= 64 * 1024
    assert stats.bytes == len(kept) * size
    assert kept[:10] == list(range(10)), "events survive while samples remain"
    dropped = stats.dropped[DropReason.BUFFER_FULL]
    assert dropped == 10 + total - len(kept)
    assert kept[10:] == list(range(10 + dropped, 10 + total)), "the oldest samples went"


def test_age_cap_drops_old_synced_readings(make: Factory) -> None:
    buffer = make(max_age_s=10)
    now = 10**18
    buffer.append(
        [
            reading(0, ts_ns=now - 20 * 10**9),
            reading(1, ts_ns=5, clock_synced=False, quality=frozenset({Quality.RESTAMPED})),
            reading(2, ts_ns=now - 11 * 10**9),
            reading(3, ts_ns=now - 1 * 10**9),
        ]
    )
    buffer.commit()
    assert buffer.expire(now) == 2
    buffer.commit()
    assert seqs(buffer) == [1, 3]
    assert buffer.stats().dropped == {DropReason.MAX_AGE: 2}


def test_unsynced_readings_wait_for_restamp(make: Factory) -> None:
    buffer = make()
    unsynced = frozenset({Quality.CLOCK_UNSYNCED})
    buffer.append(
        [
            reading(0, ts_ns=1_000, mono_ns=500, clock_synced=False, quality=unsynced),
            reading(1, ts_ns=2_000, mono_ns=1_500, clock_synced=False, quality=unsynced),
        ]
    )
    buffer.commit()
    assert seqs(buffer) == []
    assert buffer.stats().unsynced == 2
    assert buffer.restamp(10**18) == 2
    buffer.commit()
    taken = [item.reading for item in buffer.take(10)]
    assert [r.ts_ns for r in taken] == [10**18 + 500, 10**18 + 1_500]
    assert all(r.quality == {Quality.RESTAMPED} for r in taken)
    assert buffer.stats().unsynced == 0


def test_empty_stats(make: Factory) -> None:
    stats = make().stats()
    assert (stats.depth, stats.bytes, stats.first_seq, stats.oldest_ts_ns) == (0, 0, None, None)
    assert stats.dropped == {}
