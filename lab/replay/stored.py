"""What the pipeline stored: raw readings, aggregates and alert events read back from InfluxDB.

Measurements and buckets are the cloud tier's (``cloud/README.md``): ``reading`` in ``raw``,
``agg`` in ``agg_1m``/``agg_1h``, ``alert`` in ``events``, with the tags device, sensor, site.

>>> store = InfluxStore("http://127.0.0.1:8086", token="t", org="fieldlink")  # doctest: +SKIP
>>> len(store.readings())                                                       # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from influxdb_client.client.influxdb_client import InfluxDBClient

from .judge import AlertEvent, StoredAggregate, StoredReading

__all__ = ["InfluxStore"]

_EPOCH = "1970-01-01T00:00:00Z"
_WIDTH_BUCKETS = {60: "agg_1m", 3600: "agg_1h"}


class InfluxStore:
    """Flux queries against the lab's InfluxDB; ``bucket_prefix`` as the cloud's setting."""

    def __init__(
        self,
        url: str,
        *,
        token: str,
        org: str,
        bucket_prefix: str = "",
        timeout_ms: int = 120_000,
    ):
        self._client = InfluxDBClient(url=url, token=token, org=org, timeout=timeout_ms)
        self.prefix = bucket_prefix

    def close(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call]

    def _query(self, flux: str) -> Iterator[Any]:
        tables = self._client.query_api().query(flux)
        for table in tables:
            yield from table.records

    def _bucket(self, kind: str) -> str:
        return f"{self.prefix}{kind}"

    def readings(self) -> list[StoredReading]:
        """Every stored reading, with its exact event time in ns."""
        flux = f"""
from(bucket: "{self._bucket("raw")}")
  |> range(start: {_EPOCH})
  |> filter(fn: (r) => r._measurement == "reading" and (r._field == "value" or r._field == "seq"))
  |> map(fn: (r) => ({{r with ts_ns: uint(v: r._time)}}))
  |> pivot(rowKey: ["_time", "ts_ns"], columnKey: ["_field"], valueColumn: "_value")
  |> keep(columns: ["device", "sensor", "seq", "value", "ts_ns"])
"""
        rows = []
        for record in self._query(flux):
            values = record.values
            value = values.get("value")
            rows.append(
                StoredReading(
                    device=str(values["device"]),
                    sensor=str(values["sensor"]),
                    seq=int(values["seq"]),
                    ts_ns=int(values["ts_ns"]),
                    value=None if value is None else float(value),
                )
            )
        return rows

    def aggregates(self, widths_s: Iterable[int]) -> list[StoredAggregate]:
        out = []
        for width in widths_s:
            bucket = self._bucket(_WIDTH_BUCKETS.get(width, f"agg_{width}s"))
            flux = f"""
from(bucket: "{bucket}")
  |> range(start: {_EPOCH})
  |> filter(fn: (r) => r._measurement == "agg")
  |> map(fn: (r) => ({{r with ts_ns: uint(v: r._time)}}))
  |> pivot(rowKey: ["_time", "ts_ns"], columnKey: ["_field"], valueColumn: "_value")
  |> keep(columns: ["device", "sensor", "ts_ns", "count", "min", "max", "mean", "stddev", "last"])
"""
            for record in self._query(flux):
                v = record.values
                out.append(
                    StoredAggregate(
                        device=str(v["device"]),
                        sensor=str(v["sensor"]),
                        window_s=width,
                        start_ns=int(v["ts_ns"]),
                        count=int(v["count"]),
                        min=float(v["min"]),
                        max=float(v["max"]),
                        mean=float(v["mean"]),
                        stddev=float(v["stddev"]),
                        last=float(v["last"]),
                    )
                )
        return out

    def alerts(self) -> list[AlertEvent]:
        flux = f"""
from(bucket: "{self._bucket("events")}")
  |> range(start: {_EPOCH})
  |> filter(fn: (r) => r._measurement == "alert" and r._field == "alert_id")
  |> map(fn: (r) => ({{r with ts_ns: uint(v: r._time)}}))
"""
        return [
            AlertEvent(
                alert_id=str(r.values["_value"]),
                rule=str(r.values["rule"]),
                device=str(r.values["device"]),
                state=str(r.values["state"]),
                ts_ns=int(r.values["ts_ns"]),
            )
            for r in self._query(flux)
        ]

    def newest_ts_by_device(self, window_s: int = 120) -> dict[str, int]:
        """Event time of each device's newest stored reading among the last ``window_s``."""
        flux = f"""
from(bucket: "{self._bucket("raw")}")
  |> range(start: -{window_s}s)
  |> filter(fn: (r) => r._measurement == "reading" and r._field == "seq")
  |> group(columns: ["device"])
  |> last()
  |> map(fn: (r) => ({{r with ts_ns: uint(v: r._time)}}))
"""
        return {str(r.values["device"]): int(r.values["ts_ns"]) for r in self._query(flux)}

    def count_until(self, stop_ns: int) -> int:
        """Stored readings with event time before ``stop_ns``."""
        flux = f"""
from(bucket: "{self._bucket("raw")}")
  |> range(start: {_EPOCH}, stop: time(v: {stop_ns}))
  |> filter(fn: (r) => r._measurement == "reading" and r._field == "seq")
  |> group()
  |> count()
"""
        return sum(int(r.values["_value"]) for r in self._query(flux))
