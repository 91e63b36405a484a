"""The real InfluxDB 2 started by the lab: write with influxdb-client, read back with Flux."""

from __future__ import annotations

import pytest
from influxdb_client import InfluxDBClient, Point, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS

from lab.services import InfluxServer

pytestmark = pytest.mark.integration

_T0 = 1_700_000_000_000_000_000


def test_write_then_flux_query_returns_every_point(influxdb: InfluxServer, unique: str):
    creds = influxdb.credentials
    with InfluxDBClient(url=influxdb.url, token=creds.token, org=creds.org) as client:
        bucket = client.buckets_api().create_bucket(bucket_name=unique, org=creds.org)
        points = [
            Point("reading")
            .tag("device", f"pi-{i % 3}")
            .tag("sensor", "temp")
            .field("value", 20.0 + i / 10)
            .time(_T0 + i * 1_000_000_000, WritePrecision.NS)
            for i in range(300)
        ]
        client.write_api(write_options=SYNCHRONOUS).write(bucket=unique, record=points)
        # Writing the same series and timestamp again replaces the point: no duplicates.
        client.write_api(write_options=SYNCHRONOUS).write(bucket=unique, record=points[:50])

        tables = client.query_api().query(
            f'from(bucket: "{unique}") |> range(start: 2023-01-01T00:00:00Z) '
            '|> filter(fn: (r) => r._measurement == "reading") '
            '|> group() |> sort(columns: ["_time"])'
        )
        rows = [record for table in tables for record in table.records]
        client.buckets_api().delete_bucket(bucket)
    assert len(rows) == 300
    assert [round(r.get_value(), 6) for r in rows] == [round(20.0 + i / 10, 6) for i in range(300)]
    assert {r.values["device"] for r in rows} == {"pi-0", "pi-1", "pi-2"}


def test_restart_keeps_data_and_credentials(
    tmp_path_factory: pytest.TempPathFactory, influxdb: InfluxServer, unique: str
):
    server = InfluxServer(tmp_path_factory.mktemp("influx-restart"), binary=influxdb.binary)
    with server:
        creds = server.credentials
        with InfluxDBClient(url=server.url, token=creds.token, org=creds.org) as client:
            client.write_api(write_options=SYNCHRONOUS).write(
                bucket=creds.bucket, record=f"m,device=a value=1 {_T0}"
            )
        server.restart()
        assert server.credentials == creds
        with InfluxDBClient(url=server.url, token=creds.token, org=creds.org) as client:
            tables = client.query_api().query(
                f'from(bucket: "{creds.bucket}") |> range(start: 2023-01-01T00:00:00Z)'
            )
        assert [r.get_value() for t in tables for r in t.records] == [1.0]
    assert not server.running
