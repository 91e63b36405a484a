"""Every fieldlink service in docker-compose.yml gets the settings its command reads."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from fieldlink.cli import cli

from ._settings import load_from_environment

pytestmark = pytest.mark.unit


def test_bridge_environment_loads_and_points_at_the_compose_services(
    compose: dict[str, Any], secrets: dict[str, str]
) -> None:
    settings: Any = load_from_environment(
        "FIELDLINK_BRIDGE_", compose["services"]["bridge"]["environment"]
    )
    assert (settings.mqtt_host, settings.mqtt_port) == ("mosquitto", 1883)
    assert settings.mqtt_username == "fieldlink-bridge"  # what provision writes
    assert settings.mqtt_password.get_secret_value() == secrets["FIELDLINK_BRIDGE_MQTT_PASSWORD"]
    assert settings.kafka_bootstrap == "kafka:9092"
    assert settings.share_group == ""
    assert settings.metrics_port == 9108
    assert settings.telemetry_topic.partitions == settings.status_topic.partitions


@pytest.mark.parametrize("service", ["processor", "api"])
def test_cloud_environment_loads_and_points_at_the_compose_services(
    compose: dict[str, Any], secrets: dict[str, str], service: str
) -> None:
    settings: Any = load_from_environment(
        "FIELDLINK_CLOUD_", compose["services"][service]["environment"]
    )
    assert settings.kafka_bootstrap == "kafka:9092"
    assert settings.influx_url == "http://influxdb:8086"
    assert settings.influx_token == secrets["FIELDLINK_INFLUX_TOKEN"]
    influx = compose["services"]["influxdb"]["environment"]
    assert settings.influx_org == influx["DOCKER_INFLUXDB_INIT_ORG"]
    assert settings.influx_token == influx["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"]
    assert settings.bucket("raw") == influx["DOCKER_INFLUXDB_INIT_BUCKET"]
    if service == "api":
        assert (settings.api_host, settings.api_port) == ("0.0.0.0", 8700)  # noqa: S104
        port = compose["services"]["api"]["ports"][0]
        assert (port["target"] if isinstance(port, dict) else port.split(":")[-1]) in (8700, "8700")


def test_grafana_reads_the_same_influxdb(compose: dict[str, Any]) -> None:
    grafana = compose["services"]["grafana"]["environment"]
    influx = compose["services"]["influxdb"]["environment"]
    assert grafana["FIELDLINK_INFLUX_TOKEN"] == influx["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"]
    assert grafana["FIELDLINK_INFLUX_ORG"] == influx["DOCKER_INFLUXDB_INIT_ORG"]
    assert grafana["FIELDLINK_INFLUX_URL"] == "http://influxdb:8086"


def _command(service: dict[str, Any]) -> list[str]:
    return [str(part) for part in service["command"]]


def test_bridge_command_is_a_fieldlink_command(compose: dict[str, Any]) -> None:
    result = CliRunner().invoke(cli, [*_command(compose["services"]["bridge"]), "--help"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("service", ["processor", "api"])
def test_cloud_commands_are_fieldlink_commands(compose: dict[str, Any], service: str) -> None:
    result = CliRunner().invoke(cli, [*_command(compose["services"][service]), "--help"])
    assert result.exit_code == 0, result.output
