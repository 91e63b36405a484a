"""The compose `provision` step: registry -> Mosquitto files and simulated devices' configs."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest

from broker.mosquitto import verify_password
from edge.settings import EdgeSettings
from firmware.registry import Registry

from ._provision import run_provision

pytestmark = pytest.mark.unit


def passwd_lines(root: Path) -> dict[str, str]:
    lines = (root / "broker" / "passwd").read_text().splitlines()
    return {line.split(":", 1)[0]: line for line in lines}


def edge_password(root: Path, device: str) -> str:
    config = root / "fleet" / "devices" / device / "edge.toml"
    password: str = tomllib.loads(config.read_text())["mqtt"]["password"]
    return password


def test_every_simulated_device_gets_a_working_identity(tmp_path: Path) -> None:
    assert run_provision(tmp_path, devices=3) == 0
    users = passwd_lines(tmp_path)
    assert set(users) == {"fieldlink-bridge", "sim-001", "sim-002", "sim-003"}
    assert verify_password(users["fieldlink-bridge"], "bridge-pw")
    for device in ("sim-001", "sim-002", "sim-003"):
        assert verify_password(users[device], edge_password(tmp_path, device))
        settings = EdgeSettings.load(tmp_path / "fleet" / "devices" / device / "edge.toml")
        assert (settings.device, settings.site) == (device, "lab")
        assert (settings.mqtt.host, settings.mqtt.username) == ("mosquitto", device)
        assert settings.clock == "trusted"
        assert settings.buffer.path.parent == tmp_path / "fleet" / "devices" / device
        assert settings.sensors


def test_a_second_run_keeps_every_credential(tmp_path: Path) -> None:
    run_provision(tmp_path, devices=2)
    before = {d: edge_password(tmp_path, d) for d in ("sim-001", "sim-002")}
    ca = (tmp_path / "broker" / "tls" / "ca.crt").read_bytes()
    run_provision(tmp_path, devices=3)
    assert {d: edge_password(tmp_path, d) for d in before} == before
    assert (tmp_path / "broker" / "tls" / "ca.crt").read_bytes() == ca
    assert "sim-003" in passwd_lines(tmp_path)


def test_a_config_the_registry_no_longer_accepts_is_reissued(tmp_path: Path) -> None:
    run_provision(tmp_path, devices=1)
    old = edge_password(tmp_path, "sim-001")
    Registry(tmp_path / "state").rotate("sim-001")  # e.g. rotated by hand
    run_provision(tmp_path, devices=1)
    new = edge_password(tmp_path, "sim-001")
    assert new != old
    assert verify_password(passwd_lines(tmp_path)["sim-001"], new)


def test_real_devices_from_the_registry_reach_the_broker_files(tmp_path: Path) -> None:
    issued = Registry(tmp_path / "state").add("pi-07", site="farm")
    run_provision(tmp_path, devices=0)
    assert verify_password(passwd_lines(tmp_path)["pi-07"], issued.password)
    acl = (tmp_path / "broker" / "acl").read_text()
    assert "user pi-07\ntopic write fieldlink/farm/pi-07/telemetry" in acl
    assert not (tmp_path / "fleet" / "devices" / "pi-07").exists()


def test_revoked_devices_leave_the_broker_files(tmp_path: Path) -> None:
    run_provision(tmp_path, devices=2)
    Registry(tmp_path / "state").revoke("sim-002")
    run_provision(tmp_path, devices=1)
    assert "sim-002" not in passwd_lines(tmp_path)
    assert "sim-002" not in (tmp_path / "broker" / "acl").read_text()


def test_mosquitto_config_names_the_mounted_files(tmp_path: Path) -> None:
    run_provision(tmp_path, devices=1)
    conf = (tmp_path / "broker" / "mosquitto.conf").read_text().splitlines()
    for option in ("password_file", "acl_file", "cafile", "certfile", "keyfile"):
        (line,) = [line for line in conf if line.startswith(option + " ")]
        inside = Path(line.split(" ", 1)[1])
        assert inside.parts[:3] == ("/", "mosquitto", "config")
        assert (tmp_path / "broker" / inside.relative_to("/mosquitto/config")).is_file()
    assert "allow_anonymous false" in conf
    assert "listener 1883 0.0.0.0" in conf
    assert "listener 8883 0.0.0.0" in conf
    assert "persistence_location /mosquitto/data/" in conf
    assert "max_queued_messages 0" in conf


def test_secrets_are_private_and_the_ca_key_stays_with_the_registry(tmp_path: Path) -> None:
    run_provision(tmp_path, devices=1)
    broker = tmp_path / "broker"
    for name in ("passwd", "acl", "tls/server.key"):
        assert stat.S_IMODE((broker / name).stat().st_mode) == 0o600, name
    assert not (broker / "tls" / "ca.key").exists()
    assert (tmp_path / "state" / "broker-ca.key").is_file()
    config = tmp_path / "fleet" / "devices" / "sim-001" / "edge.toml"
    assert stat.S_IMODE(config.stat().st_mode) == 0o640  # group fieldlink: the edge agents


def test_without_a_bridge_password_it_refuses(tmp_path: Path) -> None:
    assert run_provision(tmp_path, devices=1, bridge_password="") == 2
    assert not (tmp_path / "broker" / "passwd").exists()
