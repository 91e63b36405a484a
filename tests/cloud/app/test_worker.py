"""A real Faust worker between the real Kafka and InfluxDB: exact counts, converging aggregates.

Workers run as subprocesses (``python -m cloud worker``) under the lab supervisor.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from lab.services import InfluxServer, KafkaServer

from ..harness import (
    NS,
    Stack,
    batches_of,
    expected_aggregates,
    fleet,
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
    with stack.worker(tmp_path / "w"):
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
