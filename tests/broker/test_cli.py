from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from fieldlink.cli import cli

pytestmark = pytest.mark.unit


def test_bridge_run_names_the_bad_field_and_file(tmp_path: Path):
    config = tmp_path / "bridge.toml"
    config.write_text("mqtt_port = 0\n")
    result = CliRunner().invoke(cli, ["bridge", "run", "--config", str(config)])
    assert result.exit_code != 0
    assert "mqtt_port" in result.output
    assert str(config) in result.output


def test_broker_config_writes_a_complete_directory(tmp_path: Path):
    devices = tmp_path / "devices.csv"
    devices.write_text("# device,password,site\npi-01,pw1,farm\npi-02,pw2,farm\n")
    out = tmp_path / "broker"
    result = CliRunner().invoke(
        cli,
        ["broker", "config", str(out), "--devices", str(devices), "--bridge-password", "b"],
    )
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} >= {"mosquitto.conf", "passwd", "acl", "tls"}
    assert "fieldlink/farm/pi-01/telemetry" in (out / "acl").read_text()
    assert "bridge credential" not in result.output  # given, so not printed


def test_broker_config_refuses_a_bad_device_row(tmp_path: Path):
    devices = tmp_path / "devices.csv"
    devices.write_text("pi/01,pw\n")
    result = CliRunner().invoke(
        cli, ["broker", "config", str(tmp_path / "b"), "--devices", str(devices)]
    )
    assert result.exit_code != 0
    assert "pi/01" in result.output
