"""A real Faust worker between the real Kafka and InfluxDB: exact counts, converging aggregates.

Workers run as subprocesses (``python -m cloud worker``) under the lab supervisor.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from fieldlink.messages import DeviceStatus, encode
from lab.services import InfluxServer, KafkaServer

from ..harness import (
    BOOT,
    NS,
    Stack,
    batches_of,
    expected_aggregates,
    fleet,
    missing_report,
    recent_start,
    same_aggregates,
    wait_until,
)

pytestmark = pytest.mark.integration


def test_duplicates_never_double_count_and_late_data_corrects_aggregates(
    kafka: KafkaServer, influxdb: InfluxServer, unique: str, tmp_path: Path
):
    stack = Stack(kafka, influxdb, unique)
    asyncio.run(stack.create_topics())
    start = recent_start()
    readings = fleet(3, 400, start_ns=start)
    on_time = [r for r in readings if r.seq % 10 != 3]
    late = [r for r in readings if r.seq % 10 == 3]
    batches = batches_of(on_time, 25)
    # Every batch twice, and overlapping re-batchings, as redeliveries from the edge would be.
    asyncio.run(stack.produce([*batches, *batches_of(on_time, 40), *batches[::3]]))
    status = DeviceStatus(device="pi-0", site="lab", boot_id=BOOT, ts_ns=0, online=True)
    for bad in (b"not json", b'{"v": 99}', encode(status)):  # bad input, in the middle
        asyncio.run(stack.produce_raw(stack.topics.telemetry, "pi-0", bad))
    asyncio.run(stack.produce(batches[::7]))
    with stack.worker(tmp_path / "w") as worker:
        wait_until(lambda: len(stack.raw()) == len(on_time), 120, "on-time readings")
        want = expected_aggregates(on_time)
        wait_until(lambda: same_aggregates(stack.aggregates(), want), 60, "1-minute aggregates")
        assert stack.raw() == sorted((r.device, r.sensor, r.ts_ns, r.value) for r in on_time)

        # Late data (its windows already written) arrives, duplicated, after the rest.
        late_batches = batches_of(late, 10)
        asyncio.run(stack.produce([*late_batches, *late_batches]))
        wait_until(lambda: len(stack.raw()) == len(readings), 120, "late readings")
        want = expected_aggregates(readings)
        wait_until(lambda: same_aggregates(stack.aggregates(), want), 60, "corrected aggregates")
        want_1h = expected_aggregates(readings, 3600)
        assert same_aggregates(stack.aggregates("agg_1h"), want_1h)
    assert stack.raw() == sorted((r.device, r.sensor, r.ts_ns, r.value) for r in readings)
    assert sum(a["count"] for a in stack.aggregates().values()) == len(readings)
    assert start % (60 * NS) == 0
    # State writes left with their batches: Faust never had to stall the stream to drain
    # its producer buffer (it logs this; records then waited seconds).
    assert b"producer buffer full" not in worker.log_path.read_bytes()
    letters = asyncio.run(stack.read_all(stack.topics.deadletter))
    assert sorted((dict(r.headers)["reason"], r.value) for r in letters) == [
        (b"malformed", b"not json"),
        (b"unsupported_version", b'{"v": 99}'),
        (b"wrong_type", encode(status)),
    ]


def test_worker_sigkilled_mid_stream_loses_nothing_and_double_counts_nothing(
    kafka: KafkaServer, influxdb: InfluxServer, unique: str, tmp_path: Path
):
    stack = Stack(kafka, influxdb, unique)
    asyncio.run(stack.create_topics())
    readings = fleet(8, 4000, start_ns=recent_start(), step_ns=NS // 2)
    batches = batches_of(readings, 20)
    half = len(batches) // 2
    backlog = stack.topics.telemetry_backlog
    # Both lanes: every third batch as drained backlog, the rest live.
    asyncio.run(stack.produce([b for i, b in enumerate(batches[:half]) if i % 3]))
    asyncio.run(stack.produce(batches[:half:3], backlog))
    # The production store: RocksDB (rocksdict) on local disk, plus the changelog.
    worker = stack.worker(tmp_path / "w", FIELDLINK_CLOUD_STORE="rocksdb://")
    with worker:
        wait_until(lambda: len(stack.raw()) >= 2000, 120, "the worker to get going")
        worker.kill()  # SIGKILL mid-stream: state changes and offsets were in flight
        asyncio.run(stack.produce(batches[half:]))
        # Resent as backlog, as an edge does with what was in flight when its link broke.
        asyncio.run(stack.produce(batches[:50], backlog))
        worker.start()
        wait_until(lambda: len(stack.raw()) >= 20000, 120, "the restarted worker to get going")
        worker.kill()  # and once more, in the middle of the second half
        worker.start()
        wait_until(
            lambda: len(stack.raw()) == len(readings),
            180,
            "every reading",
            lambda: missing_report(stack, readings) + "\n" + worker.log_tail(60),
        )
        want = expected_aggregates(readings)
        wait_until(lambda: same_aggregates(stack.aggregates(), want), 60, "exact aggregates")
    assert stack.raw() == sorted((r.device, r.sensor, r.ts_ns, r.value) for r in readings)
    assert sum(a["count"] for a in stack.aggregates().values()) == len(readings)
    assert sum(a["count"] for a in stack.aggregates("agg_1h").values()) == len(readings)


def test_live_records_overtake_a_draining_backlog(
    kafka: KafkaServer, influxdb: InfluxServer, unique: str, tmp_path: Path
):
    """A live record sent while the worker drains a large backlog (the backlog lane) is
    stored before the backlog is: it does not queue behind it."""
    stack = Stack(kafka, influxdb, unique)
    asyncio.run(stack.create_topics())
    start = recent_start()
    backlog = fleet(8, 5000, start_ns=start, step_ns=NS // 10)
    asyncio.run(stack.produce(batches_of(backlog, 50), stack.topics.telemetry_backlog))
    live = fleet(1, 1, start_ns=start + 3600 * NS)
    live = [r.model_copy(update={"device": "pi-live"}) for r in live]
    # Record by record, so that the drain of these 800 records takes a while.
    with stack.worker(tmp_path / "w", FIELDLINK_CLOUD_BATCH_MAX_RECORDS="1") as worker:
        wait_until(lambda: stack.count_raw() > 0, 120, "the drain to start")
        asyncio.run(stack.produce(batches_of(live, 1)))
        wait_until(lambda: stack.count_raw("pi-live") == 1, 120, "the live reading")
        drained = stack.count_raw() - 1
        assert drained < len(backlog), "the live reading waited for the whole backlog"
        wait_until(lambda: stack.count_raw() == len(backlog) + 1, 180, "the backlog")
    assert stack.raw() == sorted((r.device, r.sensor, r.ts_ns, r.value) for r in backlog + live)
    assert b"resumed an interrupted batch" not in worker.log_path.read_bytes()


def test_influxdb_down_30s_loses_nothing(
    kafka: KafkaServer,
    influxdb: InfluxServer,
    unique: str,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
):
    private = InfluxServer(tmp_path_factory.mktemp("influx-down"), binary=influxdb.binary)
    with private:
        stack = Stack(kafka, private, unique)
        asyncio.run(stack.create_topics())
        readings = fleet(4, 1000, start_ns=recent_start())
        first = [r for r in readings if r.seq < 500]
        second = [r for r in readings if r.seq >= 500 or r.seq % 50 == 7]  # late + duplicate
        with stack.worker(tmp_path / "w"):
            asyncio.run(stack.produce(batches_of(first, 25)))
            wait_until(lambda: len(stack.raw()) == len(first), 120, "the first half")
            private.stop()
            asyncio.run(stack.produce(batches_of(second, 25)))
            time.sleep(30)
            private.start()
            wait_until(lambda: len(stack.raw()) == len(readings), 180, "every reading")
            want = expected_aggregates(readings)
            wait_until(lambda: same_aggregates(stack.aggregates(), want), 60, "exact aggregates")
        assert stack.raw() == sorted((r.device, r.sensor, r.ts_ns, r.value) for r in readings)


def test_two_workers_split_partitions_and_equal_one_worker(
    kafka: KafkaServer, influxdb: InfluxServer, unique: str, tmp_path: Path
):
    stack = Stack(kafka, influxdb, unique)
    asyncio.run(stack.create_topics())
    readings = fleet(8, 1000, start_ns=recent_start())
    batches = batches_of(readings, 25)
    solo_env = stack.env(app_id=f"{unique}-solo", bucket_prefix=f"{unique}-solo")
    pair_env = stack.env(app_id=f"{unique}-pair", bucket_prefix=f"{unique}-pair")
    with (
        stack.worker(tmp_path / "solo", **solo_env),
        stack.worker(tmp_path / "a", "worker-a", **pair_env) as a,
        stack.worker(tmp_path / "b", "worker-b", **pair_env) as b,
    ):
        # Produce once the pair has split the partitions, so both get work.
        wait_until(lambda: asyncio.run(stack.group_members(f"{unique}-pair")) == 2, 60, "the pair")
        asyncio.run(stack.produce([*batches, *batches[::4]]))
        for prefix in (f"{unique}-solo", f"{unique}-pair"):
            wait_until(lambda p=prefix: len(stack.raw(p)) == len(readings), 180, prefix)
        want = expected_aggregates(readings)
        for prefix in (f"{unique}-solo", f"{unique}-pair"):
            wait_until(
                lambda p=prefix: same_aggregates(stack.aggregates(prefix=p), want), 60, prefix
            )
        # Both workers of the pair did part of the work (their pipeline metrics say so).
        wait_until(
            lambda: len(stack.workers_with_records(f"{unique}-pair")) == 2, 30, "both workers"
        )
        assert a.running
        assert b.running
    assert stack.raw(f"{unique}-solo") == stack.raw(f"{unique}-pair")
    assert stack.aggregates(prefix=f"{unique}-solo") == stack.aggregates(prefix=f"{unique}-pair")
