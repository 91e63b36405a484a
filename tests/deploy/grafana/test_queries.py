"""Every panel, annotation and variable query of the dashboards runs against the real
InfluxDB holding a simulated run processed by a real worker, with Grafana's macros filled in,
and returns rows with the columns its panel shows: no panel would say "No data"."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from pathlib import Path
from typing import Any

import pytest

from cloud.api._lag import LagRecorder
from cloud.settings import CloudSettings
from lab.services import InfluxServer, KafkaServer

from ...cloud.dashboard.simrun import (
    HOT_DEVICE,
    RULES,
    SimRun,
    produce_sync,
    refresh_devices,
    simulate,
    wait_stored,
)
from ...cloud.harness import Stack
from ...cloud.influx_helpers import query
from .dashboards import Query, fill, queries

pytestmark = pytest.mark.integration

WINDOW = "10000ms"  # Grafana writes the interval in ms; 10 s is the data source minimum


@pytest.fixture(scope="module")
def sim(
    kafka: KafkaServer, influxdb: InfluxServer, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Stack, SimRun]:
    name = f"g{secrets.token_hex(5)}"
    stack = Stack(kafka, influxdb, name)
    asyncio.run(stack.create_topics())
    run = simulate(devices=3, minutes=10)
    with stack.worker(tmp_path_factory.mktemp("worker"), FIELDLINK_CLOUD_ALERTS=json.dumps(RULES)):
        produce_sync(stack, run)
        wait_stored(stack, run)
        env = stack.env()
        recorder = LagRecorder(
            CloudSettings.load(
                **{k.removeprefix("FIELDLINK_CLOUD_").lower(): v for k, v in env.items()}
            )
        )
        asyncio.run(_record_lag(recorder, times=3))
        refresh_devices(stack, run)
    return stack, run


async def _record_lag(recorder: LagRecorder, times: int) -> None:
    try:
        for _ in range(times):
            await recorder.record_once()
            await asyncio.sleep(1)
    finally:
        await recorder.sink.close()


def _variables(stack: Stack) -> dict[str, str]:
    return {"bucket_prefix": f"{stack.name}-", "device": HOT_DEVICE,
            "sensor": "temp", "dashboard_url": "http://127.0.0.1:8700"}  # fmt: skip


def _run(stack: Stack, flux: str, **override: str) -> list[dict[str, Any]]:
    now = time.time_ns()
    text = fill(flux, _variables(stack) | override, now - 3600 * 10**9, now, WINDOW)
    return query(stack.influxdb, text)


ALL = queries()


@pytest.mark.parametrize("q", ALL, ids=[q.id for q in ALL])
def test_query_returns_rows_with_the_panel_columns(sim: tuple[Stack, SimRun], q: Query) -> None:
    stack, _ = sim
    sensors = ["temp", "hum"] if q.repeat == "sensor" else ["temp"]
    for sensor in sensors:
        rows = _run(stack, q.flux, sensor=sensor)
        assert rows, f"{q.id} (sensor={sensor}) would show No data"
        if q.kind in ("timeseries", "stat"):
            for row in rows:
                assert isinstance(row["_value"], int | float), (q.id, row)
            if q.kind == "timeseries":
                assert all(row["_time"] is not None for row in rows), q.id
        for column in q.columns:
            assert all(column in row for row in rows), f"{q.id}: no column {column!r}"
            assert any(row[column] is not None for row in rows), f"{q.id}: {column!r} empty"


def test_variables_list_the_simulated_devices_and_sensors(sim: tuple[Stack, SimRun]) -> None:
    stack, run = sim
    by_name = {q.title: q for q in ALL if q.kind == "variable" and q.dashboard == "device-detail"}
    devices = {row["_value"] for row in _run(stack, by_name["device"].flux)}
    assert devices == set(run.devices)
    sensors = {row["_value"] for row in _run(stack, by_name["sensor"].flux)}
    assert sensors == {"temp", "hum"}


def test_open_alerts_panel_shows_the_overheat(sim: tuple[Stack, SimRun]) -> None:
    stack, _ = sim
    (q,) = [q for q in ALL if q.dashboard == "fleet-overview" and q.kind == "table"
            and q.title == "Open alerts"]  # fmt: skip
    rows = _run(stack, q.flux)
    assert [(r["device"], r["rule"], r["sensor"]) for r in rows] == [
        (HOT_DEVICE, "overheat", "temp")
    ]
    (stat,) = [q for q in ALL if q.dashboard == "fleet-overview" and q.kind == "stat"
               and q.title == "Open alerts"]  # fmt: skip
    assert [r["_value"] for r in _run(stack, stat.flux)] == [1]


def test_fleet_table_has_every_device_and_the_backlog(sim: tuple[Stack, SimRun]) -> None:
    stack, run = sim
    (q,) = [q for q in ALL if q.title == "Devices: last seen and backlog"]
    rows = _run(stack, q.flux)
    assert sorted(r["device"] for r in rows) == run.devices
    last = {s.device: s.buffer_depth for s in sorted(run.statuses, key=lambda s: s.ts_ns)}
    assert {r["device"]: r["backlog"] for r in rows} == last


def test_queries_need_their_time_range(sim: tuple[Stack, SimRun], tmp_path: Path) -> None:
    """A range before the run shows nothing: the panels do follow the picker."""
    stack, run = sim
    (q,) = [q for q in ALL if q.title == "Backlog per device"]
    text = fill(q.flux, _variables(stack), run.start_ns - 7200 * 10**9,
                run.start_ns - 3600 * 10**9, WINDOW)  # fmt: skip
    assert query(stack.influxdb, text) == []
