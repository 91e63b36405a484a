"""Alert episodes from a real worker: a scrambled, duplicated stream opens and closes exactly
the episodes of the in-order stream, once each, on the alerts topic and in the events bucket."""

from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from cloud.api import Reader
from cloud.processing import Processor
from cloud.settings import CloudSettings
from fieldlink.messages import Alert, DeviceStatus, decode, encode
from lab.services import InfluxServer, KafkaServer

from ..harness import BOOT, Stack, batches_of, fleet, recent_start, wait_until
from ..influx_helpers import query

pytestmark = pytest.mark.integration

RULES = {
    "rules": [
        {"kind": "threshold", "name": "hot", "sensor": "temp", "above": 40, "clear": 20,
         "min_duration_s": 4},
        {"kind": "rate", "name": "jump", "sensor": "hum", "max_per_s": 12},
    ]
}  # fmt: skip


async def _alerts_topic(kafka: KafkaServer, topic: str) -> list[Alert]:
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(4)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        out: list[Alert] = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=2000)).values():
                out.extend(decode(r.value, Alert) for r in records if r.value)
        return out
    finally:
        await consumer.stop()


def test_scrambled_duplicated_stream_gives_the_in_order_episodes_once(
    kafka: KafkaServer, influxdb: InfluxServer, unique: str, tmp_path: Path
):
    stack = Stack(kafka, influxdb, unique)
    asyncio.run(stack.create_topics())
    readings = fleet(2, 300, start_ns=recent_start())
    batches = batches_of(readings, 10)
    reference = Processor(CloudSettings.load(alerts=RULES), store={})
    want = set()
    for offset, batch in enumerate(batches):
        outcome = reference.process(batch, now_ns=readings[-1].ts_ns, offset=offset)
        reference.commit(outcome)
        want |= {(a.alert_id, a.state.value) for a in outcome.alerts}
    assert len(want) > 4  # the waveform really crosses the limits

    shuffled = batches_of(readings, 7)
    # Per-device order scrambled (seeded, not security): gaps that fill later.
    random.Random(7).shuffle(shuffled)  # noqa: S311
    asyncio.run(stack.produce([*shuffled, *shuffled[::5]]))
    settings = CloudSettings.load(
        app_id=unique, kafka_bootstrap=kafka.bootstrap_servers, topic_prefix=unique
    )
    with stack.worker(tmp_path / "w", FIELDLINK_CLOUD_ALERTS=json.dumps(RULES)):
        wait_until(
            lambda: sum(asyncio.run(Reader(settings).consumer_lag()).values()) == 0,
            120,
            "the worker to commit everything",
        )
        got = asyncio.run(_alerts_topic(kafka, stack.topics.alerts))
    assert sorted((a.alert_id, a.state.value) for a in got) == sorted(want)
    stored = query(
        influxdb,
        f'from(bucket: "{stack.bucket("events")}") |> range(start: 0) '
        '|> filter(fn: (r) => r._measurement == "alert" and r._field == "alert_id")',
    )
    assert sorted((r["_value"], r["state"]) for r in stored) == sorted(want)


def test_silent_device_returning_with_a_backlog_reads_as_partition_recovery(
    kafka: KafkaServer, influxdb: InfluxServer, unique: str, tmp_path: Path
):
    stack = Stack(kafka, influxdb, unique)
    asyncio.run(stack.create_topics())
    rules = {"rules": [{"kind": "deadman", "name": "silent", "silent_s": 3}]}
    with stack.worker(tmp_path / "w", FIELDLINK_CLOUD_ALERTS=json.dumps(rules)):
        asyncio.run(stack.produce(batches_of(fleet(1, 10, start_ns=recent_start()), 10)))
        wait_until(
            lambda: len(asyncio.run(_alerts_topic(kafka, stack.topics.alerts))) == 1,
            60,
            "the device to be called silent",
        )
        status = DeviceStatus(
            device="pi-0", site="lab", boot_id=BOOT, ts_ns=time.time_ns(), online=True,
            buffer_depth=500,
        )  # fmt: skip
        asyncio.run(stack.produce_raw(stack.topics.status, "pi-0", encode(status)))
        wait_until(
            lambda: len(asyncio.run(_alerts_topic(kafka, stack.topics.alerts))) == 2,
            60,
            "the device to come back",
        )
        time.sleep(3)  # nothing else may follow: one open, one close
        alerts = asyncio.run(_alerts_topic(kafka, stack.topics.alerts))
    assert [(a.rule, a.state.value, a.device) for a in alerts] == [
        ("silent", "open", "pi-0"),
        ("silent", "close", "pi-0"),
    ]
    assert alerts[0].alert_id == alerts[1].alert_id
    assert alerts[1].message == "recovered after partition, 500 readings buffered"
