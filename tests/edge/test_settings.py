from __future__ import annotations

from pathlib import Path

import pytest

from edge.settings import EdgeSettings, SensorKind
from fieldlink.errors import ConfigError

pytestmark = pytest.mark.unit

EXAMPLE = Path(__file__).parents[2] / "edge" / "edge.example.toml"


def test_the_example_config_loads() -> None:
    settings = EdgeSettings.load(EXAMPLE)
    assert settings.device == "pi-07"
    assert {s.kind for s in settings.sensors} >= {SensorKind.ANALOG, SensorKind.DISTANCE}
    assert settings.sensors[0].waveform.schedule[0].at_s == 120


def test_environment_overrides_nested_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIELDLINK_EDGE_MQTT__HOST", "broker.lan")
    assert EdgeSettings.load(EXAMPLE).mqtt.host == "broker.lan"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('device = "Pi 07"\n', "device"),
        ('device = "pi"\n[[sensors]]\nname = "t"\nkind = "analog"\n', "sensors.0"),
        ('device = "pi"\n[mqtt]\nport = 0\n', "mqtt.port"),
        ('device = "pi"\n[buffer]\ndurability = 5\n', "buffer.durability"),
        (
            'device = "pi"\n[[sensors]]\nname = "t"\nkind = "motion"\npin = 4\nhz = -1\n',
            "sensors.0.hz",
        ),
    ],
)
def test_bad_config_names_the_field_and_the_file(tmp_path: Path, body: str, field: str) -> None:
    path = tmp_path / "edge.toml"
    path.write_text(body)
    with pytest.raises(ConfigError) as info:
        EdgeSettings.load(path)
    assert info.value.field is not None
    assert info.value.field.startswith(field)
    assert str(path) in str(info.value)


def test_duplicate_sensor_names_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "edge.toml"
    sensor = '[[sensors]]\nname = "t"\nkind = "cpu_temperature"\n'
    path.write_text('device = "pi"\n' + sensor + sensor)
    with pytest.raises(ConfigError, match="duplicate sensor names: t"):
        EdgeSettings.load(path)
