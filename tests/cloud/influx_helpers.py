"""Reading back what the cloud tier stored, for integration tests."""

from __future__ import annotations

from typing import Any

from influxdb_client import InfluxDBClient

from lab.services import InfluxServer


def query(influxdb: InfluxServer, flux: str) -> list[dict[str, Any]]:
    creds = influxdb.credentials
    with InfluxDBClient(url=influxdb.url, token=creds.token, org=creds.org, timeout=60_000) as c:
        tables = c.query_api().query(flux)
    return [record.values for table in tables for record in table.records]


def rows(influxdb: InfluxServer, bucket: str, measurement: str, field: str) -> list[dict[str, Any]]:
    return query(
        influxdb,
        f'from(bucket: "{bucket}") |> range(start: 0) '
        f'|> filter(fn: (r) => r._measurement == "{measurement}" and r._field == "{field}") '
        '|> group() |> sort(columns: ["_time"])',
    )
