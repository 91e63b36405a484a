"""Grafana provisioning: the data source and dashboard provider resolve inside the container."""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from .conftest import REPO
from .test_compose import mounts

pytestmark = pytest.mark.unit

GRAFANA = REPO / "deploy" / "grafana"
DATASOURCE = GRAFANA / "provisioning" / "datasources" / "influxdb.yaml"
PROVIDER = GRAFANA / "provisioning" / "dashboards" / "fieldlink.yaml"


def container_to_host(compose: dict[str, Any]) -> dict[PurePosixPath, Path]:
    return {
        PurePosixPath(target): Path(source)
        for kind, source, target in mounts(compose["services"]["grafana"])
        if kind == "bind"
    }


def resolve(path: str, binds: dict[PurePosixPath, Path]) -> Path:
    """The host path a container path of the grafana service lands on."""
    inside = PurePosixPath(path)
    for target, source in sorted(binds.items(), key=lambda item: -len(item[0].parts)):
        if inside == target or target in inside.parents:
            return source.joinpath(*inside.parts[len(target.parts) :])
    raise AssertionError(f"{path} is not mounted into the grafana container")


def test_provisioning_directory_is_grafanas(compose: dict[str, Any]) -> None:
    binds = container_to_host(compose)
    assert resolve("/etc/grafana/provisioning", binds) == GRAFANA / "provisioning"


def test_datasource_is_influxdb_flux_configured_from_the_environment(
    compose: dict[str, Any],
) -> None:
    document = yaml.safe_load(DATASOURCE.read_text())
    assert document["apiVersion"] == 1
    (source,) = document["datasources"]
    assert source["type"] == "influxdb"
    assert source["jsonData"]["version"] == "Flux"
    text = "\n".join(
        line for line in DATASOURCE.read_text().splitlines() if not line.lstrip().startswith("#")
    )
    referenced = set(re.findall(r"\$\{(\w+)\}", text))
    assert referenced == {
        "FIELDLINK_INFLUX_URL",
        "FIELDLINK_INFLUX_ORG",
        "FIELDLINK_INFLUX_BUCKET",
        "FIELDLINK_INFLUX_TOKEN",
    }
    env = compose["services"]["grafana"]["environment"]
    for name in referenced:
        assert env.get(name), f"grafana's environment lacks {name}"
    assert source["secureJsonData"]["token"] == "${FIELDLINK_INFLUX_TOKEN}"  # not a literal


def test_dashboard_provider_points_at_the_mounted_dashboards(compose: dict[str, Any]) -> None:
    document = yaml.safe_load(PROVIDER.read_text())
    assert document["apiVersion"] == 1
    (provider,) = document["providers"]
    assert provider["type"] == "file"
    path = provider["options"]["path"]
    assert path == "/var/lib/grafana/dashboards"
    assert resolve(path, container_to_host(compose)) == GRAFANA / "dashboards"
    assert (GRAFANA / "dashboards").is_dir()


def test_dashboards_present_are_valid_json() -> None:
    for board in (GRAFANA / "dashboards").glob("*.json"):
        document = json.loads(board.read_text())
        assert document.get("title"), board.name
        assert document.get("uid"), board.name
