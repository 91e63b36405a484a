"""The committed dashboards are what the generator writes, and are shaped as Grafana needs."""

from __future__ import annotations

import pytest
import yaml

from .dashboards import DASHBOARDS, GRAFANA, generator, load, queries

pytestmark = pytest.mark.unit


def test_committed_json_is_what_the_generator_writes() -> None:
    wanted = generator().dashboards()
    assert sorted(wanted) == sorted(p.name for p in DASHBOARDS.glob("*.json"))
    for name, text in wanted.items():
        assert (DASHBOARDS / name).read_text() == text, (
            f"{name} is stale: run python deploy/grafana/generate.py"
        )


def test_every_query_uses_the_provisioned_flux_data_source() -> None:
    source = yaml.safe_load((GRAFANA / "provisioning/datasources/influxdb.yaml").read_text())
    uid = source["datasources"][0]["uid"]
    assert source["datasources"][0]["jsonData"]["version"] == "Flux"
    uids = set()
    for path in DASHBOARDS.glob("*.json"):
        board = load(path.name)
        uids.add(board["uid"])
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] == uid
            assert all(t["datasource"]["uid"] == uid for t in panel["targets"])
            assert panel["gridPos"]["w"] <= 24
    assert len(uids) == 4


def test_buckets_carry_the_prefix_variable_and_tables_declare_columns() -> None:
    found = queries()
    assert len(found) >= 25
    for q in found:
        assert "from(bucket:" in q.flux or "schema.tagValues" in q.flux, q.id
        assert '"${bucket_prefix}' in q.flux, q.id
        if q.kind == "table":
            assert q.columns, f"{q.id}: a table panel lists its columns (organize)"


def test_the_four_dashboards_cover_the_issue() -> None:
    titles = {p.stem: [panel["title"] for panel in load(p.name)["panels"]]
              for p in DASHBOARDS.glob("*.json")}  # fmt: skip
    assert {"fleet-overview", "device-detail", "pipeline-health", "partition-replay"} == set(titles)
    assert "Open alerts" in titles["fleet-overview"]
    assert "Kafka consumer lag (telemetry records)" in titles["pipeline-health"]
    assert "Edge buffer depth per device" in titles["partition-replay"]
    device = load("device-detail.json")
    assert [a["name"] for a in device["annotations"]["list"] if "target" in a] == ["Alerts"]
