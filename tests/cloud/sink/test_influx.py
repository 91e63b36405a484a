"""InfluxSink against the real InfluxDB: buckets, idempotent rewrites, riding out an outage."""

from __future__ import annotations

import asyncio
import time

import pytest
from influxdb_client import InfluxDBClient

from cloud.settings import CloudSettings
from cloud.sink import InfluxSink, SinkRejectedError, reading_line
from fieldlink.messages import Reading
from lab.services import InfluxServer

from ..influx_helpers import rows

pytestmark = pytest.mark.integration

T0 = (time.time_ns() // 10**9 - 3600) * 10**9  # inside every bucket's retention


def settings_for(influxdb: InfluxServer, prefix: str) -> CloudSettings:
    creds = influxdb.credentials
    return CloudSettings.load(
        influx_url=influxdb.url,
        influx_token=creds.token,
        influx_org=creds.org,
        bucket_prefix=f"{prefix}-",
        raw_retention_s=7 * 86400,
    )


def readings(n: int) -> list[str]:
    return [
        reading_line(
            Reading(device=f"pi-{i % 3}", sensor="temp", value=i / 4, ts_ns=T0 + i * 10**9, seq=i),
            "lab",
        )
        for i in range(n)
    ]


def test_buckets_created_once_with_retention(influxdb: InfluxServer, unique: str):
    sink = InfluxSink(settings_for(influxdb, unique))
    created = sink.ensure_buckets()
    assert sorted(created) == sorted(
        f"{unique}-{k}" for k in ("raw", "events", "pipeline", "agg_1m", "agg_1h")
    )
    assert sink.ensure_buckets() == []
    creds = influxdb.credentials
    with InfluxDBClient(url=influxdb.url, token=creds.token, org=creds.org) as client:
        raw = client.buckets_api().find_bucket_by_name(f"{unique}-raw")
    assert raw.retention_rules[0].every_seconds == 7 * 86400


async def test_rewrites_replace_points(influxdb: InfluxServer, unique: str):
    sink = InfluxSink(settings_for(influxdb, unique))
    sink.ensure_buckets()
    lines = readings(500)
    await sink.write("raw", lines)
    await sink.write("raw", lines[100:300])
    await sink.close()
    stored = rows(influxdb, f"{unique}-raw", "reading", "value")
    assert len(stored) == 500
    assert sorted(r["_value"] for r in stored) == [i / 4 for i in range(500)]


async def test_invalid_write_is_refused_not_retried(influxdb: InfluxServer, unique: str):
    sink = InfluxSink(settings_for(influxdb, unique))
    sink.ensure_buckets()
    try:
        with pytest.raises(SinkRejectedError) as info:
            await sink.write("raw", ["reading,device=a value=notanumber 1"])
    finally:
        await sink.close()
    assert info.value.status == 400


async def test_write_waits_out_an_influxdb_outage(
    tmp_path_factory: pytest.TempPathFactory, influxdb: InfluxServer, unique: str
):
    server = InfluxServer(tmp_path_factory.mktemp("influx-outage"), binary=influxdb.binary)
    with server:
        sink = InfluxSink(settings_for(server, unique))
        sink.ensure_buckets()
        server.stop()
        pending = asyncio.create_task(sink.write("raw", readings(200)))
        await asyncio.sleep(3)
        assert not pending.done()
        await asyncio.to_thread(server.start)
        await asyncio.wait_for(pending, timeout=60)
        await sink.close()
        assert sink.retries > 0
        assert len(rows(server, f"{unique}-raw", "reading", "value")) == 200


async def test_workers_starting_together_both_ensure_buckets(influxdb: InfluxServer, unique: str):
    sinks = [InfluxSink(settings_for(influxdb, unique)) for _ in range(4)]
    created = await asyncio.gather(*(asyncio.to_thread(s.ensure_buckets) for s in sinks))
    assert sorted(name for names in created for name in names) == sorted(
        f"{unique}-{k}" for k in ("raw", "events", "pipeline", "agg_1m", "agg_1h")
    )


async def test_deferred_submits_go_in_one_request_per_bucket(influxdb: InfluxServer, unique: str):
    sink = InfluxSink(settings_for(influxdb, unique), max_lines_per_write=1000)
    sink.ensure_buckets()
    lines = readings(1200)
    try:
        # A batch queued record by record waits for flush(): then one request per bucket,
        # and a caller whose lines are invalid is refused alone.
        futures = [sink.submit("raw", lines[i : i + 10], flush=False) for i in range(0, 300, 10)]
        bad = sink.submit("raw", ["reading,device=a value=notanumber 1"], flush=False)
        await asyncio.sleep(0.2)
        assert sink.requests == 0
        assert not any(f.done() for f in futures)
        sink.flush()
        await asyncio.gather(*futures)
        with pytest.raises(SinkRejectedError):
            await bad
        assert len(rows(influxdb, f"{unique}-raw", "reading", "value")) == 300
        # A full request's worth of queued lines goes without waiting for flush().
        before = sink.requests
        full = [sink.submit("raw", lines[i : i + 100], flush=False) for i in range(0, 1000, 100)]
        await asyncio.wait_for(asyncio.gather(*full), timeout=30)
        assert sink.requests == before + 1
        last = sink.submit("raw", lines[1000:], flush=False)
        await asyncio.sleep(0.2)
        assert not last.done()
        sink.flush()
        await last
    finally:
        await sink.close()
    assert len(rows(influxdb, f"{unique}-raw", "reading", "value")) == 1200
