from __future__ import annotations

from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from edge.errors import SensorError
from edge.sensors import build_driver
from edge.settings import SensorConfig

pytestmark = pytest.mark.unit


def test_a_plugin_driver_is_loaded_by_name_and_calibrated(tmp_path: Path) -> None:
    path = tmp_path / "in_humidityrelative_input"
    path.write_text("45250\n")
    config = SensorConfig(
        name="humidity",
        kind="plugin",
        plugin="edge.sensors.plugins.sysfs:SysfsSensor",
        options={"path": str(path)},
        calibration={"scale": 0.001},  # type: ignore[arg-type]
    )
    driver = build_driver(config)
    assert driver.read() == pytest.approx(45.25)
    path.unlink()
    with pytest.raises(SensorError, match="humidity"):
        driver.read()


def test_an_unknown_plugin_is_a_sensor_error() -> None:
    config = SensorConfig(name="x", kind="plugin", plugin="edge.sensors.plugins.sysfs:Nope")
    with pytest.raises(SensorError, match="cannot load plugin"):
        build_driver(config)


def test_bad_wiring_is_a_sensor_error_naming_the_sensor() -> None:
    config = SensorConfig(name="pir", kind="motion", pin="GPIO99")
    with pytest.raises(SensorError, match=r"'pir'.*MotionSensor"):
        build_driver(config, MockFactory())
