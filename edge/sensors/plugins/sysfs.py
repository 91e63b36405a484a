"""Example plugin: a number read from a file, e.g. an I2C sensor bound to a kernel driver.

Many I2C sensors (BME280, SHT3x, HTU21D...) have Linux IIO drivers that expose readings as
files under ``/sys/bus/iio/devices/``. Enable the overlay in ``config.txt``
(``dtoverlay=i2c-sensor,bme280``), then point this plugin at the file::

    [[sensors]]
    name = "humidity"
    kind = "plugin"
    plugin = "edge.sensors.plugins.sysfs:SysfsSensor"
    options = { path = "/sys/bus/iio/devices/iio:device0/in_humidityrelative_input" }
    calibration = { scale = 0.001 }   # the driver reports milli-percent

A plugin is any class constructed as ``Class(config, **options)`` with ``read() -> float``
(raw value; raise ``OSError`` on failure) and ``close()``; an optional ``simulate(raw)`` lets
``--simulate`` drive it.

>>> import tempfile, pathlib
>>> from edge.settings import SensorConfig
>>> path = pathlib.Path(tempfile.mkdtemp()) / "in_temp_input"
>>> sensor = SysfsSensor(SensorConfig(name="t", kind="plugin", plugin="m:C"), path=str(path))
>>> sensor.simulate(21500.0); sensor.read()
21500.0
"""

from __future__ import annotations

from pathlib import Path

from ...settings import SensorConfig

__all__ = ["SysfsSensor"]


class SysfsSensor:
    def __init__(self, config: SensorConfig, *, path: str) -> None:
        self.config = config
        self.path = Path(path)

    def read(self) -> float:
        return float(self.path.read_text().split()[0])

    def simulate(self, raw: float) -> None:
        self.path.write_text(f"{raw:g}\n")

    def close(self) -> None:
        pass
