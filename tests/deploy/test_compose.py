"""docker-compose.yml, as docker-compose 1.29.2's `config` renders it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from .conftest import REPO, run_compose

pytestmark = pytest.mark.unit

STATEFUL = {  # service -> where its state lives inside the container
    "mosquitto": "/mosquitto/data",
    "kafka": "/var/lib/kafka/data",
    "influxdb": "/var/lib/influxdb2",
    "grafana": "/var/lib/grafana",
    "provision": "/var/lib/fieldlink/state",
    "edge": "/var/lib/fieldlink/fleet",
}
PINNED_IMAGES = {
    "mosquitto": r"eclipse-mosquitto:2\.\d+\.\d+",
    "kafka": r"apache/kafka:3\.9\.1",
    "influxdb": r"influxdb:2\.\d+\.\d+",
    "grafana": r"grafana/grafana:\d+\.\d+\.\d+",
}
OURS = {"provision", "bridge", "processor", "api", "edge"}


def mounts(service: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(type, source, target) of each mount, from the short syntax docker-compose 1.29
    prints (``source:target[:mode]``) or the long one newer implementations print."""
    found = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            found.append((volume["type"], volume["source"], volume["target"]))
            continue
        source, target = volume.split(":")[:2]
        kind = "bind" if source.startswith(("/", ".")) else "volume"
        found.append((kind, source, target))
    return found


def test_every_service_is_there(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == set(PINNED_IMAGES) | OURS
    assert compose["services"]["edge"]["profiles"] == ["sim"]


def test_only_the_simulated_fleet_is_behind_a_profile(compose: dict[str, Any]) -> None:
    # (docker-compose 1.29's `config --services` lists profiled services too, so this reads
    # the model: `up` without --profile sim starts every service without a profile.)
    profiled = {name for name, s in compose["services"].items() if s.get("profiles")}
    assert profiled == {"edge"}


def test_a_missing_secret_stops_compose_with_its_name() -> None:
    result = run_compose(REPO / ".env.example", "config")
    assert result.returncode != 0
    assert "FIELDLINK_BRIDGE_MQTT_PASSWORD" in result.stderr


def test_secrets_come_from_the_env_file_only(
    compose: dict[str, Any], secrets: dict[str, str]
) -> None:
    text = (REPO / "docker-compose.yml").read_text()
    for name in (
        "FIELDLINK_BRIDGE_MQTT_PASSWORD",
        "FIELDLINK_INFLUX_TOKEN",
        "INFLUXDB_ADMIN_PASSWORD",
        "GRAFANA_ADMIN_PASSWORD",
    ):
        assert secrets[name], name
        assert f"${{{name}:?" in text, f"{name} must be required, never defaulted"
    bridge = compose["services"]["bridge"]["environment"]
    assert bridge["FIELDLINK_BRIDGE_MQTT_PASSWORD"] == secrets["FIELDLINK_BRIDGE_MQTT_PASSWORD"]


@pytest.mark.parametrize("service", sorted(PINNED_IMAGES))
def test_official_images_are_pinned(compose: dict[str, Any], service: str) -> None:
    assert re.fullmatch(PINNED_IMAGES[service], compose["services"][service]["image"])
    assert "build" not in compose["services"][service]


@pytest.mark.parametrize("service", sorted(OURS))
def test_our_services_build_from_an_existing_dockerfile(
    compose: dict[str, Any], service: str
) -> None:
    build = compose["services"][service]["build"]
    context = Path(build["context"])
    assert context == REPO
    dockerfile = context / build["dockerfile"]
    assert dockerfile.is_file()
    assert dockerfile.parent.parent == REPO / "deploy" / "docker"


def test_every_health_condition_has_a_healthcheck(compose: dict[str, Any]) -> None:
    services = compose["services"]
    checked = 0
    for name, service in services.items():
        for target, rule in service.get("depends_on", {}).items():
            condition = rule["condition"]
            if condition == "service_healthy":
                check = services[target].get("healthcheck", {})
                assert check.get("test"), (name, target)
                assert not check.get("disable"), (name, target)
            elif condition == "service_completed_successfully":
                assert services[target].get("restart", "no") == "no", (name, target)
            else:
                pytest.fail(f"{name} waits on {target} without a condition: {condition}")
            checked += 1
    assert checked >= 10


def test_mosquitto_starts_after_provisioning_and_the_fleet_after_mosquitto(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert services["mosquitto"]["depends_on"]["provision"] == {
        "condition": "service_completed_successfully"
    }
    assert services["edge"]["depends_on"]["mosquitto"] == {"condition": "service_healthy"}
    assert services["bridge"]["depends_on"]["kafka"] == {"condition": "service_healthy"}


@pytest.mark.parametrize("service", sorted(STATEFUL))
def test_stateful_services_keep_state_in_named_volumes(
    compose: dict[str, Any], service: str
) -> None:
    named = {
        target: source
        for kind, source, target in mounts(compose["services"][service])
        if kind == "volume"
    }
    assert STATEFUL[service] in named
    assert named[STATEFUL[service]] in compose["volumes"]


def test_every_bind_mount_exists(compose: dict[str, Any]) -> None:
    binds = [
        (name, Path(source))
        for name, service in compose["services"].items()
        for kind, source, _ in mounts(service)
        if kind == "bind"
    ]
    assert len(binds) >= 3
    for name, source in binds:
        assert source.exists(), (name, source)
        assert REPO in source.parents, (name, source)


def test_every_named_volume_is_used(compose: dict[str, Any]) -> None:
    used = {
        source
        for service in compose["services"].values()
        for kind, source, _ in mounts(service)
        if kind == "volume"
    }
    assert used == set(compose["volumes"])


@pytest.mark.parametrize("service", ["processor", "edge"])
def test_scalable_services_have_no_fixed_name_or_host_port(
    compose: dict[str, Any], service: str
) -> None:
    assert "container_name" not in compose["services"][service]
    assert "ports" not in compose["services"][service]


def test_no_container_names_anywhere(compose: dict[str, Any]) -> None:
    assert not [name for name, s in compose["services"].items() if "container_name" in s]


def test_our_containers_never_run_as_root(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        user = str(service.get("user", ""))
        assert not user.startswith(("0", "root")), name
    # provision writes Mosquitto's files as Mosquitto's own uid, readable by group fieldlink
    assert compose["services"]["provision"]["user"] == "1883:10001"
    assert compose["services"]["mosquitto"]["user"] == "1883:1883"


def test_one_bridge_with_a_plain_subscription(compose: dict[str, Any]) -> None:
    env = compose["services"]["bridge"]["environment"]
    assert env["FIELDLINK_BRIDGE_SHARE_GROUP"] == ""
    assert "deploy" not in compose["services"]["bridge"]


def test_processor_topics_share_one_partition_count(compose: dict[str, Any]) -> None:
    bridge = compose["services"]["bridge"]["environment"]
    cloud = compose["services"]["processor"]["environment"]
    counts = {
        str(bridge["FIELDLINK_BRIDGE_TELEMETRY_TOPIC__PARTITIONS"]),
        str(bridge["FIELDLINK_BRIDGE_STATUS_TOPIC__PARTITIONS"]),
        str(cloud["FIELDLINK_CLOUD_PARTITIONS"]),
    }
    assert len(counts) == 1, counts
