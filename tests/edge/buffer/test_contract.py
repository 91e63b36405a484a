"""One contract, run against every buffer implementation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge.buffer import Buffer, MemoryBuffer, SqliteBuffer
from edge.errors import SeqError
from edge.publish import Ack, Publisher
from edge.settings import PublishSettings
from fieldlink.messages import DropReason, Quality, Reading, ReadingBatch, ReadingKind, decode

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


# -- readings in flight are never dropped ------------------------------------------------


def test_claimed_readings_survive_the_byte_cap_until_published(make: Factory) -> None:
    buffer = make(max_bytes=64 * 1024)
    buffer.append([reading(s) for s in range(100)])
    buffer.commit()
    buffer.claim(range(0, 50))
    assert buffer.stats().in_flight == 50
    buffer.append([reading(s) for s in range(100, 2_100)])
    buffer.commit()
    kept = seqs(buffer)
    assert kept[:50] == list(range(50)), "readings in flight are not evicted"
    stats = buffer.stats()
    assert stats.dropped[DropReason.BUFFER_FULL] == 2_100 - len(kept)
    assert buffer.mark_published(range(50)) == 50
    assert buffer.stats().in_flight == 0


def test_released_readings_can_be_evicted_again(make: Factory) -> None:
    buffer = make(max_bytes=64 * 1024)
    buffer.append([reading(s) for s in range(10)])
    buffer.commit()
    buffer.claim(range(10))
    buffer.release(range(10))
    assert buffer.stats().in_flight == 0
    buffer.append([reading(s) for s in range(10, 2_010)])
    buffer.commit()
    assert seqs(buffer)[0] > 9, "released readings are the oldest samples again"


def test_in_flight_alone_may_exceed_the_cap(make: Factory) -> None:
    buffer = make(max_bytes=64 * 1024)
    size = 64 + len("temp") + len("degC")
    fits = 64 * 1024 // size
    buffer.append([reading(s) for s in range(fits)])
    buffer.commit()
    buffer.claim(range(fits))
    buffer.append([reading(s) for s in range(fits, fits + 100)])
    buffer.commit()
    stats = buffer.stats()
    assert stats.dropped == {DropReason.BUFFER_FULL: 100}, "only readings not in flight went"
    assert seqs(buffer) == list(range(fits))
    assert stats.bytes == fits * size
    buffer.append([reading(fits + 100)])
    buffer.commit()
    assert stats.bytes <= 64 * 1024 < stats.bytes + size, "over the cap by what is in flight"


def test_claimed_readings_are_not_expired(make: Factory) -> None:
    buffer = make(max_age_s=10)
    now = 10**18
    buffer.append([reading(s, ts_ns=now - 20 * 10**9 + s) for s in range(4)])
    buffer.commit()
    buffer.claim([1, 2])
    assert buffer.expire(now) == 2
    buffer.commit()
    assert seqs(buffer) == [1, 2]
    assert buffer.stats().dropped == {DropReason.MAX_AGE: 2}
    buffer.release([2])
    assert buffer.expire(now) == 1
    assert buffer.mark_published([1]) == 1
    buffer.commit()
    assert seqs(buffer) == []


def test_set_max_bytes_shrinks_now_and_restores(make: Factory) -> None:
    size = 64 + len("temp") + len("degC")
    buffer = make(max_bytes=1024 * 1024)
    buffer.append([reading(s) for s in range(1_000)])
    buffer.commit()
    buffer.claim([0])
    buffer.set_max_bytes(10 * size)
    buffer.commit()
    stats = buffer.stats()
    kept = seqs(buffer)
    assert stats.max_bytes == 10 * size
    assert kept[0] == 0, "in flight"
    assert stats.bytes <= 10 * size
    assert stats.dropped[DropReason.BUFFER_FULL] == 1_000 - len(kept)
    buffer.set_max_bytes(1024 * 1024)
    buffer.append([reading(s) for s in range(1_000, 2_000)])
    buffer.commit()
    assert buffer.stats().dropped[DropReason.BUFFER_FULL] == 1_000 - len(kept), "restored"


class _Link:
    """Records messages instead of sending them (the publisher's bookkeeping only)."""

    def __init__(self) -> None:
        self.connected = True
        self.connects = 1
        self.sent: dict[int, ReadingBatch] = {}

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> int:
        mid = len(self.sent) + 1
        self.sent[mid] = decode(payload, ReadingBatch)
        return mid


def test_buffer_filling_while_a_window_is_in_flight_loses_nothing_uncounted(
    make: Factory,
) -> None:
    """Every sampled reading is delivered or counted dropped, never both, even when the
    buffer overflows and ages out while the first window waits for its acks."""
    buffer = make(max_bytes=64 * 1024, max_age_s=10)
    now = 10**18
    publisher = Publisher(
        buffer, _Link(), site="lab", settings=PublishSettings(batch_size=100, inflight=4)
    )
    link = publisher._link
    assert isinstance(link, _Link)
    sampled = 3_000
    publisher.pump()  # connected: what comes next is live
    buffer.append([reading(s, ts_ns=now - 60 * 10**9 + s) for s in range(400)])
    buffer.commit()
    publisher.pump()
    window = dict(link.sent)
    assert sum(len(b.readings) for b in window.values()) == 400, "the whole window in flight"
    buffer.append([reading(s, ts_ns=now - 60 * 10**9 + s) for s in range(400, sampled)])
    buffer.commit()
    buffer.expire(now)  # everything is a minute old: only what is in flight survives
    assert buffer.stats().depth == 400
    delivered: list[int] = []
    while link.sent:
        for mid, batch in list(link.sent.items()):
            del link.sent[mid]
            publisher.handle_ack(Ack(mid, True, "Success"))
            delivered += [r.seq for r in batch.readings]
        publisher.pump()
    dropped = sum(buffer.stats().dropped.values())
    assert len(delivered) == len(set(delivered)), "no duplicates without a reconnect"
    assert len(delivered) + dropped == sampled
    assert set(delivered) == set(range(400)), "the window, and nothing dropped was sent"
    assert buffer.stats().depth == 0
