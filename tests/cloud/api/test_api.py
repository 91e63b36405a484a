"""The API over the real InfluxDB and Kafka: devices, alerts, pipeline health, metrics."""

from __future__ import annotations

import time

import pytest

from cloud.api import create_api
from cloud.settings import CloudSettings
from cloud.sink import InfluxSink, alert_line, status_line
from cloud.sink.lines import tagged
from fieldlink.messages import Alert, AlertState, DeviceStatus
from lab.services import InfluxServer, KafkaServer

from ..harness import BOOT, Stack, batches_of, fleet
from .asgi import get

pytestmark = pytest.mark.integration


async def test_devices_alerts_pipeline_and_metrics(
    kafka: KafkaServer, influxdb: InfluxServer, unique: str
):
    creds = influxdb.credentials
    settings = CloudSettings.load(
        app_id=unique,
        kafka_bootstrap=kafka.bootstrap_servers,
        topic_prefix=unique,
        partitions=2,
        influx_url=influxdb.url,
        influx_token=creds.token,
        influx_org=creds.org,
        bucket_prefix=f"{unique}-",
    )
    now = time.time_ns()
    sink = InfluxSink(settings)
    sink.ensure_buckets()
    device = {"missing": 3, "duplicates": 0, "fresh": 10, "too_late": 0}
    await sink.write(
        "pipeline",
        [
            tagged("device", {"device": "pi-1", "site": "lab"}, {"seen_ns": now, **device}, now),
            tagged("device", {"device": "pi-2", "site": "lab"}, {"seen_ns": now - 10**12}, now),
            status_line(
                DeviceStatus(
                    device="pi-1", site="lab", boot_id=BOOT, ts_ns=now, online=True, buffer_depth=42
                ),
                now,
            ),
            tagged("worker", {"worker": "w1"}, {"records": 5, "duplicates": 2, "missing": 3}, now),
        ],
    )

    def alert(rule: str, state: AlertState, at: int) -> Alert:
        return Alert(
            alert_id=f"{rule}:pi-1:temp:{now}",
            rule=rule,
            state=state,
            device="pi-1",
            site="lab",
            sensor="temp",
            ts_ns=at,
        )

    await sink.write(
        "events",
        [
            alert_line(alert("hot", AlertState.OPEN, now - 5 * 10**9)),
            alert_line(alert("jump", AlertState.OPEN, now - 4 * 10**9)),
            alert_line(alert("jump", AlertState.CLOSE, now - 3 * 10**9)),
        ],
    )
    await sink.close()
    stack = Stack(kafka, influxdb, unique, partitions=2)
    await stack.create_topics()
    await stack.produce(batches_of(fleet(2, 20, start_ns=now), 4))  # 10 records, no consumer

    app = create_api(settings)
    status, body = await get(app, "/devices?site=lab")
    assert status == 200
    by_name = {d["device"]: d for d in body["devices"]}
    assert by_name["pi-1"]["backlog"] == 42
    assert by_name["pi-1"]["missing"] == 3
    assert by_name["pi-1"]["online"] is True
    assert by_name["pi-2"]["online"] is False

    status, body = await get(app, "/alerts?state=open")
    assert status == 200
    assert [(a["rule"], a["state"]) for a in body["alerts"]] == [("hot", "open")]
    status, body = await get(app, "/alerts?device=pi-1")
    assert sorted((a["rule"], a["state"]) for a in body["alerts"]) == [
        ("hot", "open"),
        ("jump", "closed"),
    ]

    status, body = await get(app, "/pipeline")
    assert status == 200
    assert body["consumer_lag_error"] is None
    assert body["consumer_lag_total"] == 10, body
    assert body["totals"]["missing"] == 3
    assert body["totals"]["duplicates"] == 2

    status, text = await get(app, "/metrics")
    assert status == 200
    assert "fieldlink_cloud_consumer_lag{" in text
    assert "fieldlink_cloud_duplicates_total 2.0" in text
