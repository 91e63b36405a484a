"""Grafana dashboards as code: this script writes ``deploy/grafana/dashboards/*.json``.

Edit the panels here and run ``python deploy/grafana/generate.py``; a unit test fails when
the JSON in the repository is not what this script writes. Every query is Flux against the
data source provisioned as ``fieldlink-influxdb`` and the cloud tier's buckets
(``raw``, ``agg_1m``, ``agg_1h``, ``events``, ``pipeline``), named ``${bucket_prefix}raw``
and so on: the ``bucket_prefix`` text box matches ``FIELDLINK_CLOUD_BUCKET_PREFIX``.

Every panel's Flux query is run by ``tests/deploy/grafana`` against a real InfluxDB holding
a simulated run, with the macros Grafana fills in (``v.timeRangeStart``, ``v.timeRangeStop``,
``v.windowPeriod``, ``${variable}``); a panel that would show "No data" fails that test.
Table panels declare the columns they show in an ``organize`` transformation, which the
test checks against the query's result.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["DASHBOARDS", "OUT_DIR", "dashboards", "write"]

OUT_DIR = Path(__file__).resolve().parent / "dashboards"
DS = {"type": "influxdb", "uid": "fieldlink-influxdb"}
RANGE = "|> range(start: v.timeRangeStart, stop: v.timeRangeStop)"


def _bucket(kind: str) -> str:
    return f'from(bucket: "${{bucket_prefix}}{kind}")'


def _panel(
    kind: str,
    title: str,
    query: str,
    grid: tuple[int, int, int, int],
    *,
    unit: str = "short",
    description: str = "",
    columns: tuple[str, ...] = (),
    repeat: str | None = None,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    x, y, w, h = grid
    panel: dict[str, Any] = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "targets": [{"refId": "A", "datasource": DS, "query": query.strip()}],
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": options or {},
    }
    if kind == "timeseries":
        panel["options"] = {"legend": {"displayMode": "list", "placement": "bottom"}} | (
            options or {}
        )
    if columns:
        panel["transformations"] = [
            {
                "id": "organize",
                "options": {"indexByName": {name: i for i, name in enumerate(columns)}},
            }
        ]
    if repeat:
        panel["repeat"] = repeat
        panel["repeatDirection"] = "h"
        panel["maxPerRow"] = 3
    return panel


def _textbox(name: str, label: str, default: str = "", hide: int = 0) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": "textbox",
        "query": default,
        "current": {"text": default, "value": default},
        "hide": hide,
    }


def _tag_variable(name: str, label: str, query: str, *, multi: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DS,
        "query": query.strip(),
        "definition": query.strip(),
        "refresh": 2,
        "sort": 1,
        "multi": multi,
        "includeAll": multi,
        "current": {},
        "hide": 0,
    }


def _dashboard(
    uid: str,
    title: str,
    description: str,
    panels: list[dict[str, Any]],
    variables: list[dict[str, Any]],
    *,
    time_from: str = "now-1h",
    annotations: list[dict[str, Any]] | None = None,
    links: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    for number, panel in enumerate(panels, start=1):
        panel["id"] = number
    builtin = {
        "builtIn": 1,
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": True,
        "hide": True,
        "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts",
        "type": "dashboard",
    }
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["fieldlink"],
        "editable": False,
        "schemaVersion": 41,
        "version": 1,
        "refresh": "10s",
        "time": {"from": time_from, "to": "now"},
        "timezone": "browser",
        "templating": {"list": [_textbox("bucket_prefix", "Bucket prefix"), *variables]},
        "annotations": {"list": [builtin, *(annotations or [])]},
        "links": links or [],
        "panels": panels,
    }


# -- Fleet overview ------------------------------------------------------------------------

_SEEN = f"""
{_bucket("pipeline")}
  {RANGE}
  |> filter(fn: (r) => r._measurement == "device" and r._field == "fresh")
"""

FLEET_TABLE = f"""
seen = {_bucket("pipeline")}
  {RANGE}
  |> filter(fn: (r) => r._measurement == "device" and r._field == "fresh")
  |> last()
  |> keep(columns: ["device", "site", "_time"])
  |> rename(columns: {{_time: "last_seen"}})
  |> group()
status = {_bucket("pipeline")}
  {RANGE}
  |> filter(fn: (r) => r._measurement == "device_status")
  |> filter(fn: (r) => r._field == "online" or r._field == "buffer_depth" or r._field == "dropped")
  |> last()
  |> toInt()
  |> group(columns: ["device", "site"])
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
  |> keep(columns: ["device", "site", "online", "buffer_depth", "dropped"])
  |> group()
join(tables: {{seen: seen, status: status}}, on: ["device", "site"])
  |> rename(columns: {{buffer_depth: "backlog"}})
  |> sort(columns: ["backlog"], desc: true)
"""

OPEN_ALERTS = f"""
{_bucket("events")}
  {RANGE}
  |> filter(fn: (r) => r._measurement == "alert" and r._field == "alert_id")
  |> group(columns: ["_value"])
  |> sort(columns: ["_time"])
  |> last()
  |> group()
  |> filter(fn: (r) => r.state == "open")
  |> rename(columns: {{_value: "alert_id", _time: "opened"}})
  |> keep(columns: ["opened", "device", "rule", "sensor", "site", "alert_id"])
  |> sort(columns: ["opened"], desc: true)
"""


def fleet_overview() -> dict[str, Any]:
    panels = [
        _panel(
            "stat",
            "Devices online",
            f"""
{_bucket("pipeline")}
  |> range(start: -2m)
  |> filter(fn: (r) => r._measurement == "device" and r._field == "fresh")
  |> last()
  |> group()
  |> count()
""",
            (0, 0, 4, 5),
            description="Devices whose telemetry reached the workers in the last 2 minutes.",
        ),
        _panel(
            "stat",
            "Devices in range",
            f"""{_SEEN}  |> last()\n  |> group()\n  |> count()""",
            (4, 0, 4, 5),
        ),
        _panel(
            "stat",
            "Open alerts",
            f'{OPEN_ALERTS}  |> count(column: "alert_id")\n'
            '  |> rename(columns: {alert_id: "_value"})',
            (8, 0, 4, 5),
            options={"colorMode": "background"},
        ),
        _panel(
            "stat",
            "Edge backlog (readings)",
            f"""
{_bucket("pipeline")}
  {RANGE}
  |> filter(fn: (r) => r._measurement == "device_status" and r._field == "buffer_depth")
  |> last()
  |> group()
  |> sum()
""",
            (12, 0, 4, 5),
            description="Readings buffered on the devices, summed over the fleet.",
        ),
        _panel(
            "timeseries",
            "Readings/s (event time)",
            f"""
{_bucket("agg_1m")}
  {RANGE}
  |> filter(fn: (r) => r._measurement == "agg" and r._field == "count")
  |> group()
  |> aggregateWindow(every: 1m, fn: sum, createEmpty: false)
  |> map(fn: (r) => ({{r with _value: float(v: r._value) / 60.0}}))
""",
            (16, 0, 8, 5),
            unit="reqps",
            description="Readings per second by sample time, from the 1-minute aggregates.",
        ),
        _panel(
            "table",
            "Devices: last seen and backlog",
            FLEET_TABLE,
            (0, 5, 14, 12),
            columns=("device", "site", "online", "last_seen", "backlog", "dropped"),
        ),
        _panel(
            "table",
            "Open alerts",
            OPEN_ALERTS,
            (14, 5, 10, 12),
            columns=("opened", "device", "rule", "sensor", "site", "alert_id"),
        ),
        _panel(
            "timeseries",
            "Backlog per device",
            f"""
{_bucket("pipeline")}
  {RANGE}
  |> filter(fn: (r) => r._measurement == "device_status" and r._field == "buffer_depth")
  |> aggregateWindow(every: v.windowPeriod, fn: max, createEmpty: false)
  |> keep(columns: ["_time", "_value", "device"])
""",
            (0, 17, 24, 8),
        ),
    ]
    panels[5]["fieldConfig"]["overrides"] = [
        {
            "matcher": {"id": "byName", "options": "online"},
            "properties": [
                {
                    "id": "mappings",
                    "value": [
                        {
                            "type": "value",
                            "options": {
                                "1": {"text": "online", "color": "green"},
                                "0": {"text": "offline", "color": "red"},
                            },
                        }
                    ],
                },
                {"id": "custom.cellOptions", "value": {"type": "color-text"}},
            ],
        },
        {
            "matcher": {"id": "byName", "options": "last_seen"},
            "properties": [{"id": "unit", "value": "dateTimeFromNow"}],
        },
    ]
    return _dashboard(
        "fieldlink-fleet",
        "fieldlink: Fleet overview",
        "Devices online, last seen, edge backlog, readings/s and open alerts.",
        panels,
        [],
    )


# -- Device detail ------------------------------------------------------------------------

_DEVICE = 'r.device == "${device}"'
_SENSOR = "r.sensor =~ /^${sensor:regex}$/"


def _agg_query(kind: str, unit: str) -> str:
    # A window's point is at its start: widen the range back to the window boundary so the
    # window the range starts inside is shown too.
    return f"""
import "date"
{_bucket(kind)}
  |> range(start: date.truncate(t: v.timeRangeStart, unit: {unit}), stop: v.timeRangeStop)
  |> filter(fn: (r) => r._measurement == "agg" and {_DEVICE} and {_SENSOR})
  |> filter(fn: (r) => r._field == "mean" or r._field == "min" or r._field == "max")
  |> keep(columns: ["_time", "_value", "_field"])
"""


ALERT_ANNOTATIONS = f"""
{_bucket("events")}
  {RANGE}
  |> filter(fn: (r) => r._measurement == "alert" and {_DEVICE} and r._field == "message")
  |> map(fn: (r) => ({{
      time: r._time,
      text: r.rule + " " + r.state + ": " + r._value,
      tags: r.state,
  }}))
  |> group()
"""


def device_detail() -> dict[str, Any]:
    panels = [
        _panel(
            "timeseries",
            "${sensor}: raw readings",
            f"""
{_bucket("raw")}
  {RANGE}
  |> filter(fn: (r) => r._measurement == "reading" and {_DEVICE} and {_SENSOR})
  |> filter(fn: (r) => r._field == "value")
  |> aggregateWindow(every: v.windowPeriod, fn: mean, createEmpty: false)
  |> keep(columns: ["_time", "_value", "sensor"])
""",
            (0, 0, 8, 8),
            repeat="sensor",
        ),
        _panel(
            "timeseries",
            "${sensor}: 1-minute mean, min, max",
            _agg_query("agg_1m", "1m"),
            (0, 8, 8, 8),
            repeat="sensor",
        ),
        _panel(
            "timeseries",
            "${sensor}: 1-hour mean, min, max",
            _agg_query("agg_1h", "1h"),
            (0, 16, 8, 8),
            repeat="sensor",
        ),
        _panel(
            "timeseries",
            "Edge buffer depth",
            f"""
{_bucket("pipeline")}
  {RANGE}
  |> filter(fn: (r) => r._measurement == "device_status" and {_DEVICE})
  |> filter(fn: (r) => r._field == "buffer_depth")
  |> aggregateWindow(every: v.windowPeriod, fn: max, createEmpty: false)
  |> keep(columns: ["_time", "_value"])
""",
            (0, 24, 12, 8),
        ),
        _panel(
            "table",
            "Alert transitions",
            f"""
{_bucket("events")}
  {RANGE}
  |> filter(fn: (r) => r._measurement == "alert" and {_DEVICE})
  |> filter(fn: (r) => r._field == "message" or r._field == "severity")
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
  |> group()
  |> keep(columns: ["_time", "rule", "sensor", "state", "severity", "message"])
  |> sort(columns: ["_time"], desc: true)
""",
            (12, 24, 12, 8),
            columns=("_time", "rule", "sensor", "state", "severity", "message"),
        ),
    ]
    variables = [
        _tag_variable(
            "device",
            "Device",
            'import "influxdata/influxdb/schema"\n'
            'schema.tagValues(bucket: "${bucket_prefix}raw", tag: "device", start: -30d)',
        ),
        _tag_variable(
            "sensor",
            "Sensor",
            'import "influxdata/influxdb/schema"\n'
            'schema.tagValues(bucket: "${bucket_prefix}raw", tag: "sensor", start: -30d,\n'
            '  predicate: (r) => r.device == "${device}")',
            multi=True,
        ),
    ]
    annotation = {
        "name": "Alerts",
        "datasource": DS,
        "enable": True,
        "iconColor": "red",
        "target": {"refId": "Anno", "query": ALERT_ANNOTATIONS.strip()},
    }
    return _dashboard(
        "fieldlink-device",
        "fieldlink: Device detail",
        "Raw readings and 1-minute/1-hour aggregates per sensor, with alert annotations.",
        panels,
        variables,
        annotations=[annotation],
    )


# -- Pipeline health -----------------------------------------------------------------------


def _worker_rate(field: str) -> str:
    """Per-second rate of a worker counter, summed over workers (counters restart at 0 when
    a worker restarts: nonNegative drops that step)."""
    return f"""
{_bucket("pipeline")}
  {RANGE}
  |> filter(fn: (r) => r._measurement == "worker" and r._field == "{field}")
  |> aggregateWindow(every: v.windowPeriod, fn: last, createEmpty: false)
  |> derivative(unit: 1s, nonNegative: true)
  |> group()
  |> aggregateWindow(every: v.windowPeriod, fn: sum, createEmpty: false)
  |> set(key: "_field", value: "{field}")
"""


def _worker_counters(*fields: str) -> str:
    wanted = " or ".join(f'r._field == "{f}"' for f in fields)
    return f"""
{_bucket("pipeline")}
  {RANGE}
  |> filter(fn: (r) => r._measurement == "worker" and ({wanted}))
  |> aggregateWindow(every: v.windowPeriod, fn: last, createEmpty: false)
  |> group(columns: ["_field"])
  |> aggregateWindow(every: v.windowPeriod, fn: sum, createEmpty: false)
"""


CONSUMER_LAG = f"""
{_bucket("pipeline")}
  {RANGE}
  |> filter(fn: (r) => r._measurement == "consumer_lag" and r._field == "lag")
  |> aggregateWindow(every: v.windowPeriod, fn: last, createEmpty: false)
  |> group()
  |> aggregateWindow(every: v.windowPeriod, fn: sum, createEmpty: false)
  |> set(key: "_field", value: "records behind")
"""


def _per_worker(*fields: str) -> str:
    wanted = " or ".join(f'r._field == "{f}"' for f in fields)
    return f"""
{_bucket("pipeline")}
  {RANGE}
  |> filter(fn: (r) => r._measurement == "worker" and ({wanted}))
  |> aggregateWindow(every: v.windowPeriod, fn: max, createEmpty: false)
  |> keep(columns: ["_time", "_value", "_field", "worker"])
"""


def pipeline_health() -> dict[str, Any]:
    panels = [
        _panel(
            "timeseries",
            "Ingest rate (readings/s stored)",
            _worker_rate("readings_fresh"),
            (0, 0, 12, 8),
            unit="reqps",
        ),
        _panel(
            "timeseries",
            "Kafka consumer lag (telemetry records)",
            CONSUMER_LAG,
            (12, 0, 12, 8),
            description="Recorded by the API (fieldlink cloud api) every few seconds.",
        ),
        _panel(
            "timeseries",
            "Dedup and gaps (since worker start)",
            _worker_counters(
                "duplicates", "missing", "too_late", "replayed", "refetched", "resumed"
            ),
            (0, 8, 12, 8),
        ),
        _panel(
            "timeseries",
            "Dead letters and refused writes",
            _worker_counters("dead_letters", "rejected_writes", "write_retries"),
            (12, 8, 12, 8),
        ),
        _panel(
            "timeseries",
            "InfluxDB write latency",
            _per_worker("write_p50_s", "write_p99_s"),
            (0, 16, 12, 8),
            unit="s",
        ),
        _panel(
            "timeseries",
            "Record processing latency",
            _per_worker("latency_p50_s", "latency_p99_s"),
            (12, 16, 12, 8),
            unit="s",
        ),
    ]
    return _dashboard(
        "fieldlink-pipeline",
        "fieldlink: Pipeline health",
        "Ingest rate, consumer lag, dedup and gap counters, dead letters, write latency.",
        panels,
        [],
    )


# -- Partition replay ----------------------------------------------------------------------


def partition_replay() -> dict[str, Any]:
    panels = [
        _panel(
            "timeseries",
            "Edge buffer depth per device",
            f"""
{_bucket("pipeline")}
  {RANGE}
  |> filter(fn: (r) => r._measurement == "device_status" and r._field == "buffer_depth")
  |> aggregateWindow(every: v.windowPeriod, fn: max, createEmpty: false)
  |> keep(columns: ["_time", "_value", "device"])
""",
            (0, 0, 12, 9),
        ),
        _panel(
            "timeseries",
            "Oldest buffered reading per device",
            f"""
{_bucket("pipeline")}
  {RANGE}
  |> filter(fn: (r) => r._measurement == "device_status")
  |> filter(fn: (r) => r._field == "oldest_buffered_age_s")
  |> aggregateWindow(every: v.windowPeriod, fn: max, createEmpty: false)
  |> keep(columns: ["_time", "_value", "device"])
""",
            (12, 0, 12, 9),
            unit="s",
        ),
        _panel(
            "timeseries",
            "Ingest rate (readings/s stored)",
            _worker_rate("readings_fresh"),
            (0, 9, 12, 8),
            unit="reqps",
        ),
        _panel("timeseries", "Kafka consumer lag", CONSUMER_LAG, (12, 9, 12, 8)),
        _panel(
            "timeseries",
            "Readings dropped on the edge (buffer policy)",
            f"""
{_bucket("pipeline")}
  {RANGE}
  |> filter(fn: (r) => r._measurement == "device_status" and r._field == "dropped")
  |> aggregateWindow(every: v.windowPeriod, fn: max, createEmpty: false)
  |> keep(columns: ["_time", "_value", "device"])
""",
            (0, 17, 12, 8),
        ),
        _panel(
            "timeseries",
            "Processing latency p99",
            _per_worker("latency_p99_s"),
            (12, 17, 12, 8),
            unit="s",
        ),
    ]
    annotation = {
        "name": "Alerts (deadman, recovery)",
        "datasource": DS,
        "enable": True,
        "iconColor": "orange",
        "target": {
            "refId": "Anno",
            "query": f"""
{_bucket("events")}
  {RANGE}
  |> filter(fn: (r) => r._measurement == "alert" and r._field == "message")
  |> map(fn: (r) => ({{time: r._time, text: r.device + " " + r.rule + " " + r.state + ": "
      + r._value, tags: r.rule}}))
  |> group()
""".strip(),
        },
    }
    links = [
        {
            "title": "Replay reports (built-in dashboard)",
            "type": "link",
            "url": "${dashboard_url}/ui/reports.html",
            "targetBlank": True,
        }
    ]
    return _dashboard(
        "fieldlink-replay",
        "fieldlink: Partition replay",
        "A scenario run's timelines: pick the run's time range. Buffer depth per device, "
        "ingest rate, consumer lag, edge drops; the verdict is in the replay report.",
        panels,
        [_textbox("dashboard_url", "Built-in dashboard URL", "http://localhost:8700")],
        time_from="now-30m",
        annotations=[annotation],
        links=links,
    )


DASHBOARDS = {
    "fleet-overview.json": fleet_overview,
    "device-detail.json": device_detail,
    "pipeline-health.json": pipeline_health,
    "partition-replay.json": partition_replay,
}


def dashboards() -> dict[str, str]:
    """File name -> JSON text, as committed."""
    return {name: json.dumps(make(), indent=2) + "\n" for name, make in DASHBOARDS.items()}


def write(out_dir: Path = OUT_DIR) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in dashboards().items():
        path = out_dir / name
        path.write_text(text)
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT_DIR):
        print(path)
