"""Handlers with the real Kafka and InfluxDB: records Faust never delivered are fetched."""

from __future__ import annotations

import pytest

from cloud.app import read_range
from cloud.handlers import Handlers
from cloud.settings import CloudSettings
from cloud.sink import InfluxSink
from fieldlink.messages import encode
from lab.services import InfluxServer, KafkaServer

from .harness import Stack, batches_of, fleet, recent_start

pytestmark = pytest.mark.integration


async def _never(*args: object) -> None:
    raise AssertionError(f"nothing should be published, got {args[:-1]}")


async def test_offsets_skipped_by_the_consumer_are_fetched_and_processed(
    kafka: KafkaServer, influxdb: InfluxServer, unique: str
):
    stack = Stack(kafka, influxdb, unique, partitions=1)
    await stack.create_topics()
    readings = fleet(1, 60, start_ns=recent_start())
    batches = batches_of(readings, 10)
    await stack.produce(batches)
    creds = influxdb.credentials
    settings = CloudSettings.load(
        influx_url=influxdb.url, influx_token=creds.token, influx_org=creds.org,
        bucket_prefix=f"{unique}-", alerts={"rules": []},
    )  # fmt: skip
    sink = InfluxSink(settings)
    sink.ensure_buckets()
    handlers = Handlers(
        settings,
        store={},
        sink=sink,
        publish_alert=_never,
        publish_deadletter=_never,
        fetch_range=lambda lane, *span: read_range(
            kafka.bootstrap_servers, stack.topics.telemetry_lanes()[lane], *span
        ),
    )
    try:
        # The first record delivered is offset 1: offset 0 was acked but never delivered.
        await handlers.telemetry(encode(batches[1]), offset=1, partition=0, ts_ns=0)
        assert handlers.counters.refetched == 1
        # Then the consumer jumps from offset 1 to 5: 2-4 are missing too.
        await handlers.telemetry(encode(batches[5]), offset=5, partition=0, ts_ns=0)
        assert handlers.counters.refetched == 4
        # A redelivery of what was handled changes nothing.
        await handlers.telemetry(encode(batches[3]), offset=3, partition=0, ts_ns=0)
    finally:
        await sink.close()
    assert handlers.counters.replayed == 1
    assert handlers.counters.readings_fresh == 60
    assert stack.raw() == sorted((r.device, r.sensor, r.ts_ns, r.value) for r in readings)
