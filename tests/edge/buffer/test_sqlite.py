"""What only the SQLite buffer promises: durability across kill -9, restarts and full disks."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from edge.buffer import BufferCounters, SqliteBuffer, read_counters, read_generated
from edge.errors import StorageError
from fieldlink.messages import DropReason, Quality, Reading, ReadingKind

pytestmark = pytest.mark.unit

WRITER = Path(__file__).with_name("_writer.py")


def reading(seq: int, kind: ReadingKind = ReadingKind.SAMPLE) -> Reading:
    return Reading(device="pi-07", sensor="temp", value=1.0, ts_ns=10**18 + seq, seq=seq, kind=kind)


def test_sigkill_mid_write_keeps_every_committed_reading(tmp_path: Path) -> None:
    path = tmp_path / "b.sqlite3"
    writer = subprocess.Popen(
        [sys.executable, str(WRITER), str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None
        committed = [int(writer.stdout.readline()) for _ in range(40)]
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    last = committed[-1]
    with SqliteBuffer(path, device="pi-07") as buffer:
        assert buffer.integrity_check() == "ok"
        got = [item.reading.seq for item in buffer.take(10**7)]
        assert got[: last + 1] == list(range(last + 1)), "a committed reading went missing"
        assert got == list(range(len(got))), "gap or corruption after the last commit"
        assert all(item.reading.value == float(item.reading.seq) for item in buffer.take(10**7))
        assert buffer.next_seq >= last + 1


def test_restart_never_reuses_a_seq_and_gets_a_new_boot_id(tmp_path: Path) -> None:
    path = tmp_path / "b.sqlite3"
    with SqliteBuffer(path, device="pi-07") as first:
        first.append([reading(0), reading(1), reading(2)])
        first.commit()
        first.mark_published([0, 1, 2])
        old_boot = first.boot_id
    with SqliteBuffer(path, device="pi-07") as second:
        assert second.stats().depth == 0
        assert second.next_seq == 3, "seq survives even when the buffer is empty"
        assert second.boot_id != old_boot
        second.append([reading(3)])
        second.commit()
        assert [i.boot_id for i in second.take(10)] == [second.boot_id]


def test_readings_keep_the_boot_id_they_were_stamped_with(tmp_path: Path) -> None:
    path = tmp_path / "b.sqlite3"
    with SqliteBuffer(path, device="pi-07") as first:
        first.append([reading(0)])
        old_boot = first.boot_id
    with SqliteBuffer(path, device="pi-07") as second:
        second.append([reading(1)])
        second.commit()
        assert [(i.boot_id, i.reading.seq) for i in second.take(10)] == [
            (old_boot, 0),
            (second.boot_id, 1),
        ]


def test_drop_counters_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "b.sqlite3"
    with SqliteBuffer(path, device="pi-07", max_bytes=64 * 1024) as first:
        first.append([reading(s) for s in range(2_000)])
        dropped = first.stats().dropped
    assert dropped[DropReason.BUFFER_FULL] > 0
    with SqliteBuffer(path, device="pi-07", max_bytes=64 * 1024) as second:
        assert second.stats().dropped == dropped


def test_another_devices_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "b.sqlite3"
    SqliteBuffer(path, device="pi-07").close()
    with pytest.raises(StorageError, match="pi-07"):
        SqliteBuffer(path, device="pi-08")


def test_full_disk_triggers_the_policy_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "b.sqlite3"
    with SqliteBuffer(path, device="pi-07", durability_ms=0) as buffer:
        # A hard page limit makes SQLite report SQLITE_FULL exactly as a full disk does.
        buffer._db.execute("PRAGMA max_page_count = 64")
        buffer.append([reading(0, ReadingKind.EVENT)])
        appended = 1
        for start in range(1, 40_001, 100):
            buffer.append([reading(s) for s in range(start, start + 100)])
            appended += 100
        stats = buffer.stats()
        kept = [i.reading.seq for i in buffer.take(10**6)]
        assert stats.dropped.get(DropReason.DISK_FULL, 0) > 0
        assert len(kept) + stats.dropped[DropReason.DISK_FULL] == appended
        assert kept[0] == 0, "the event outlived the samples"
        assert kept[-1] == 40_000, "the newest readings were kept"
        assert buffer.integrity_check() == "ok"

        # One append bigger than the whole disk: it cannot be stored at all, and says so.
        buffer.append([reading(s) for s in range(40_001, 60_001)])
        appended += 20_000
        stats = buffer.stats()
        kept = [i.reading.seq for i in buffer.take(10**6)]
        assert len(kept) + stats.dropped[DropReason.DISK_FULL] == appended
        assert buffer.next_seq == 60_001, "seqs of lost readings are never reused"
        assert buffer.integrity_check() == "ok"
    with SqliteBuffer(path, device="pi-07") as reopened:
        assert reopened.stats().dropped == stats.dropped, "the drop count was recorded"


def test_a_published_reading_a_full_disk_rolled_back_is_never_counted_dropped(
    tmp_path: Path,
) -> None:
    path = tmp_path / "b.sqlite3"
    with SqliteBuffer(path, device="pi-07", durability_ms=60_000) as buffer:
        buffer.append([reading(s) for s in range(1_000)])
        buffer.commit()
        pages = buffer._db.execute("PRAGMA page_count").fetchone()[0]
        buffer._db.execute(f"PRAGMA max_page_count = {pages}")
        buffer.claim(range(100))
        assert buffer.mark_published(range(100)) == 100  # acked; the delete is not committed
        appended = 1_000
        for start in range(1_000, 21_000, 500):
            buffer.append([reading(s) for s in range(start, start + 500)])
            appended += 500
        buffer.commit()
        kept = {i.reading.seq for i in buffer.take(10**6)}
        dropped = buffer.stats().dropped[DropReason.DISK_FULL]
        assert dropped > 0
        assert kept.isdisjoint(range(100)), "published readings stay gone after a rollback"
        assert len(kept) + dropped + 100 == appended, "each reading ends exactly one way"


def test_the_record_keeps_every_committed_reading_with_its_final_time(tmp_path: Path) -> None:
    path = tmp_path / "b.sqlite3"
    unsynced = frozenset({Quality.CLOCK_UNSYNCED})
    with SqliteBuffer(
        path, device="pi-07", record=True, max_bytes=64 * 1024, max_age_s=10, durability_ms=0
    ) as buffer:
        buffer.append(
            [
                Reading(
                    device="pi-07",
                    sensor="temp",
                    value=1.0,
                    ts_ns=5,
                    mono_ns=1_000 + s,
                    seq=s,
                    clock_synced=False,
                    quality=unsynced,
                )
                for s in range(3)
            ]
        )
        buffer.restamp(10**18)
        buffer.append([reading(s) for s in range(3, 2_003)])  # overflows the cap
        buffer.claim([2_002])
        assert buffer.mark_published([2_002]) == 1
        buffer.expire(10**18 + 2_003 + 20 * 10**9)  # ages out the rest
        buffer.append([reading(2_003)])
        buffer.commit()
        stats = buffer.stats()
        assert stats.depth == 1
        counters = read_counters(path)  # while the buffer is open
    record = list(read_generated(path))
    assert [r.seq for r in record] == list(range(2_004)), "never deleted from"
    assert [r.ts_ns for r in record[:3]] == [10**18 + 1_000 + s for s in range(3)]
    assert all(r.quality == {Quality.RESTAMPED} for r in record[:3])
    assert record[3:] == [reading(s) for s in range(3, 2_004)]
    assert counters == BufferCounters(
        device="pi-07", next_seq=2_004, dropped=stats.dropped, unstored=0, recorded=2_004
    )
    assert sum(stats.dropped.values()) == 2_004 - 1 - 1, "all but the published and the last"


def test_the_record_has_what_the_buffer_committed_after_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "b.sqlite3"
    writer = subprocess.Popen(
        [sys.executable, str(WRITER), str(path), "--record"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None
        committed = [int(writer.stdout.readline()) for _ in range(20)]
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    recorded = [r.seq for r in read_generated(path)]
    with SqliteBuffer(path, device="pi-07") as buffer:
        buffered = [item.reading.seq for item in buffer.take(10**7)]
    assert recorded == buffered, "a reading is in the record iff the buffer committed it"
    assert recorded[: committed[-1] + 1] == list(range(committed[-1] + 1))
    assert read_counters(path).recorded == len(recorded)


def test_readings_a_full_disk_never_stored_are_counted_as_unstored(tmp_path: Path) -> None:
    path = tmp_path / "b.sqlite3"
    with SqliteBuffer(path, device="pi-07", durability_ms=0, record=True) as buffer:
        buffer._db.execute("PRAGMA max_page_count = 64")
        buffer.append([reading(s) for s in range(20_000)])  # bigger than the whole "disk"
        buffer.append([reading(20_000)])
    counters = read_counters(path)
    recorded = [r.seq for r in read_generated(path)]
    assert recorded == [20_000]
    assert counters.unstored == 20_000 == counters.dropped[DropReason.DISK_FULL]
    assert counters.next_seq == 20_001


def test_a_file_without_a_record_says_so(tmp_path: Path) -> None:
    path = tmp_path / "b.sqlite3"
    SqliteBuffer(path, device="pi-07").close()
    assert read_counters(path).recorded is None
    with pytest.raises(StorageError, match="no record"):
        list(read_generated(path))
    with pytest.raises(StorageError, match="no such file"):
        read_counters(tmp_path / "missing.sqlite3")
