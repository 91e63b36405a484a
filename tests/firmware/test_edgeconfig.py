"""The edge config written into images parses and carries the device's settings."""

from __future__ import annotations

import importlib.util
import tomllib
from pathlib import Path

import pytest

from firmware.edgeconfig import EdgeConfig, render_edge_config, toml_dumps
from firmware.profiles import PROFILES

pytestmark = pytest.mark.unit


def test_toml_round_trips_nested_tables_and_escapes():
    document = {
        "name": 'quote " and \\ backslash',
        "n": 3,
        "x": 0.5,
        "on": True,
        "table": {"k": "v", "inner": {"deep": [1, 2]}},
        "rows": [{"a": 1, "cal": {"scale": 2.0}}, {"a": 2}],
    }
    assert tomllib.loads(toml_dumps(document)) == document


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_edge_config_for_every_profile(profile: str, tmp_path: Path):
    config = EdgeConfig(
        device="pi-07",
        site="farm",
        mqtt_host="broker.lan",
        mqtt_username="pi-07",
        mqtt_password="pw",
        ca_file="/etc/fieldlink/ca.pem",
        sensors=PROFILES[profile].sensors,
    )
    text = render_edge_config(config)
    parsed = tomllib.loads(text)
    assert parsed["device"] == "pi-07"
    assert parsed["site"] == "farm"
    assert parsed["mqtt"] == {
        "host": "broker.lan",
        "port": 1883,
        "username": "pi-07",
        "password": "pw",
        "tls": False,
        "ca_file": "/etc/fieldlink/ca.pem",
    }
    assert [s["name"] for s in parsed["sensors"]] == [s["name"] for s in PROFILES[profile].sensors]
    # Once the edge tier's settings are in the tree, the file must load with them too.
    if importlib.util.find_spec("edge.settings") is not None:
        from edge.settings import EdgeSettings  # type: ignore[import-not-found,unused-ignore]

        path = tmp_path / "edge.toml"
        path.write_text(text)
        loaded = EdgeSettings.load(path)
        assert loaded.device == "pi-07"
        assert loaded.mqtt.username == "pi-07"
