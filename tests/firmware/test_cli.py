"""``fieldlink device`` and ``fieldlink firmware`` through the real root command."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from broker.mosquitto import verify_password
from fieldlink.cli import cli
from firmware.image.fat import FatPartition
from firmware.image.partitions import read_partitions
from firmware.registry import Registry

pytestmark = pytest.mark.integration


def _run(state: Path, *args: str, ok: bool = True) -> str:
    result = CliRunner().invoke(cli, list(args), env={"FIELDLINK_STATE_DIR": str(state)})
    assert (result.exit_code == 0) is ok, result.output
    return result.output


def test_device_lifecycle(tmp_path: Path):
    state = tmp_path / "state"
    out = _run(state, "device", "add", "pi-07", "--site", "farm", "--sensors", "tank")
    password = re.search(r"mqtt password: (\S+)", out)
    assert password is not None
    registry = Registry(state)
    assert registry.verify("pi-07", password.group(1))
    assert "pi-07" in _run(state, "device", "list")
    shown = json.loads(_run(state, "device", "show", "pi-07"))
    assert shown["profile"] == "tank"
    assert "password_hash" not in shown
    assert shown["topics"]["telemetry"] == "fieldlink/farm/pi-07/telemetry"

    rotated = re.search(r"mqtt password: (\S+)", _run(state, "device", "rotate", "pi-07"))
    assert rotated is not None
    assert rotated.group(1) != password.group(1)
    assert registry.verify("pi-07", rotated.group(1))

    assert "error" in _run(state, "device", "add", "pi-07", "--site", "farm", ok=False).lower()
    assert "fieldlink device add ghost" in _run(state, "device", "show", "ghost", ok=False)
    _run(state, "device", "revoke", "pi-07")
    assert _run(state, "device", "list", "--json") == "[]\n"
    assert json.loads(_run(state, "device", "list", "--all", "--json"))[0]["state"] == "revoked"
    passwd = tmp_path / "passwd"
    exported = json.loads(_run(state, "device", "export", "--password-file", str(passwd)))
    assert exported["devices"][0]["state"] == "revoked"
    assert passwd.read_text() == ""
    acl = tmp_path / "acl"
    bridge = ["--bridge-user", "fieldlink-bridge", "--bridge-password", "bridge-pw"]
    _run(state, "device", "export", "--password-file", str(passwd), "--acl-file", str(acl), *bridge)
    assert verify_password(passwd.read_text(), "bridge-pw")
    assert passwd.read_text().startswith("fieldlink-bridge:$7$")
    assert "user fieldlink-bridge\n" in acl.read_text()
    assert "pi-07" not in acl.read_text()


def test_build_then_flash_to_a_file_target(trixie_image: Path, wheel: Path, tmp_path: Path):
    state = tmp_path / "state"
    _run(state, "device", "add", "pi-09", "--site", "farm", "--sensors", "climate")
    image = tmp_path / "pi-09.img"
    _run(
        state,
        "firmware",
        "build",
        "--base",
        str(trixie_image),
        "--device",
        "pi-09",
        "-o",
        str(image),
        "--mqtt-host",
        "broker.lan",
        "--wheel",
        str(wheel),
        "--i2c",
    )
    target = tmp_path / "card.bin"
    refused = _run(
        state, "firmware", "flash", "--image", str(image), "--target", str(target), ok=False
    )
    assert "--allow-file" in refused
    assert not target.exists()
    out = _run(
        state, "firmware", "flash", "--image", str(image), "--target", str(target), "--allow-file"
    )
    assert "verified" in out
    boot = FatPartition(target, offset=read_partitions(target)[0].offset)
    config = tomllib.loads(boot.read("fieldlink/edge.toml").decode())
    assert Registry(state).verify("pi-09", config["mqtt"]["password"])
    config_txt = boot.read("config.txt").decode().splitlines()
    assert "dtparam=spi=on" in config_txt
    assert "dtparam=i2c_arm=on" in config_txt


def test_build_of_an_unknown_device_is_a_clear_cli_error(
    trixie_image: Path, wheel: Path, tmp_path: Path
):
    out = _run(
        tmp_path / "state",
        "firmware",
        "build",
        "--base",
        str(trixie_image),
        "--device",
        "pi-1",
        "-o",
        str(tmp_path / "o.img"),
        "--mqtt-host",
        "h",
        "--wheel",
        str(wheel),
        ok=False,
    )
    assert "not in the registry" in out
    assert not (tmp_path / "o.img").exists()
