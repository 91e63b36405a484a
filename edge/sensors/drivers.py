"""Sensor drivers: each wraps one gpiozero device, built on the pin factory it is given.

A driver turns its device's raw value into a calibrated float. Drivers never decide what to
do about a failure: :meth:`Driver.read` raises and the sampler flags the reading bad.

Wiring (BCM numbering):

* ``analog``: MCP3008 on SPI0 (SCLK 11, MOSI 10, MISO 9, CE0 8), ``channel`` 0-7; a TMP36 on a
  channel reads ``calibration = {scale = 100.0, offset = -50.0}`` (volts -> degC).
* ``distance``: HC-SR04, ``trigger_pin`` direct, ``echo_pin`` through a 5V->3.3V divider.
* ``motion``: PIR output on ``pin``. ``digital``: switch between ``pin`` and GND (internal
  pull-up). ``line``: line sensor output on ``pin``. ``light``: LDR + 1uF capacitor on ``pin``.
"""

from __future__ import annotations

import importlib
import logging
import math
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

import gpiozero
from gpiozero.pins import Factory

from ..errors import SensorError
from ..settings import SensorConfig, SensorKind
from . import calibration

__all__ = ["Driver", "GpioDriver", "PluginDriver", "build_driver"]

logger = logging.getLogger(__name__)

EdgeCallback = Callable[[float], None]
"""Called with 1.0 on activation and 0.0 on deactivation, from gpiozero's threads."""


class PluginDriver(Protocol):
    """What a plugin (a driver that is not a gpiozero device, e.g. an I2C sensor) provides.

    The class is named in the config as ``plugin = "package.module:Class"`` and constructed
    as ``Class(config, **config.options)``. :meth:`read` returns the raw value (calibration
    is applied by the agent) and raises ``OSError`` when the sensor fails. See
    :mod:`edge.sensors.plugins.sysfs` for a complete example.
    """

    def read(self) -> float: ...

    def close(self) -> None: ...


class Driver:
    """A named sensor: raw value from :meth:`_raw`, calibrated by the config."""

    def __init__(self, config: SensorConfig) -> None:
        self.config = config
        self.fault: str | None = None
        """Set by the simulator to make reads fail (a simulated dropout)."""

    @property
    def name(self) -> str:
        return self.config.name

    def _raw(self) -> float:
        raise NotImplementedError

    def read(self) -> float:
        """The calibrated value; raises :class:`SensorError` when the sensor fails."""
        if self.fault is not None:
            raise SensorError(self.name, self.fault)
        try:
            raw = self._raw()
        except SensorError:
            raise
        except Exception as exc:
            raise SensorError(self.name, f"{type(exc).__name__}: {exc}") from exc
        value = calibration.apply(self.config.calibration, float(raw))
        if not math.isfinite(value):
            raise SensorError(self.name, f"non-finite value {value}")
        return value

    def watch(self, on_edge: EdgeCallback) -> None:
        """Report edges (digital sensors only)."""
        raise SensorError(self.name, "not a digital sensor")

    def close(self) -> None:
        """Release the hardware."""


class GpioDriver(Driver):
    """A driver over one gpiozero device; subclasses say which and how to read it."""

    device_class: ClassVar[type[gpiozero.Device]]
    attribute: ClassVar[str] = "value"

    def __init__(self, config: SensorConfig, pin_factory: Factory | None) -> None:
        super().__init__(config)
        try:
            self.device: Any = self._make(config, pin_factory)
        except Exception as exc:
            raise SensorError(
                config.name, f"cannot open {self.device_class.__name__}: {exc}"
            ) from exc

    def _make(self, config: SensorConfig, pin_factory: Factory | None) -> gpiozero.Device:
        return self.device_class(config.pin, pin_factory=pin_factory)

    def _raw(self) -> float:
        value = getattr(self.device, self.attribute)
        if value is None:
            raise SensorError(self.name, "no value yet")
        return float(value)

    def watch(self, on_edge: EdgeCallback) -> None:
        if not self.config.digital:
            super().watch(on_edge)
        self.device.when_activated = lambda: on_edge(1.0)
        self.device.when_deactivated = lambda: on_edge(0.0)

    def close(self) -> None:
        self.device.close()


class AnalogDriver(GpioDriver):
    device_class = gpiozero.MCP3008
    attribute = "voltage"

    def _make(self, config: SensorConfig, pin_factory: Factory | None) -> gpiozero.Device:
        return gpiozero.MCP3008(
            channel=config.channel, max_voltage=config.max_voltage, pin_factory=pin_factory
        )


class DistanceDriver(GpioDriver):
    device_class = gpiozero.DistanceSensor
    attribute = "distance"

    def _make(self, config: SensorConfig, pin_factory: Factory | None) -> gpiozero.Device:
        return gpiozero.DistanceSensor(
            echo=config.echo_pin,
            trigger=config.trigger_pin,
            max_distance=4,
            pin_factory=pin_factory,
        )


class MotionDriver(GpioDriver):
    device_class = gpiozero.MotionSensor


class LightDriver(GpioDriver):
    device_class = gpiozero.LightSensor


class DigitalDriver(GpioDriver):
    device_class = gpiozero.Button

    def _make(self, config: SensorConfig, pin_factory: Factory | None) -> gpiozero.Device:
        return gpiozero.Button(config.pin, pull_up=True, pin_factory=pin_factory)


class LineDriver(GpioDriver):
    device_class = gpiozero.LineSensor

    def _make(self, config: SensorConfig, pin_factory: Factory | None) -> gpiozero.Device:
        return gpiozero.LineSensor(config.pin, sample_rate=20, pin_factory=pin_factory)


class CpuTemperatureDriver(GpioDriver):
    device_class = gpiozero.CPUTemperature
    attribute = "temperature"

    def _make(self, config: SensorConfig, pin_factory: Factory | None) -> gpiozero.Device:
        sensor_file = str(
            config.options.get("sensor_file", "/sys/class/thermal/thermal_zone0/temp")
        )
        return gpiozero.CPUTemperature(sensor_file=sensor_file, pin_factory=pin_factory)


class LoadAverageDriver(GpioDriver):
    device_class = gpiozero.LoadAverage
    attribute = "load_average"

    def _make(self, config: SensorConfig, pin_factory: Factory | None) -> gpiozero.Device:
        path = str(config.options.get("load_average_file", "/proc/loadavg"))
        return gpiozero.LoadAverage(load_average_file=path, pin_factory=pin_factory)


class DiskUsageDriver(GpioDriver):
    device_class = gpiozero.DiskUsage
    attribute = "usage"

    def _make(self, config: SensorConfig, pin_factory: Factory | None) -> gpiozero.Device:
        filesystem = str(config.options.get("filesystem", "/"))
        return gpiozero.DiskUsage(filesystem=filesystem, pin_factory=pin_factory)


class _PluginAdapter(Driver):
    def __init__(self, config: SensorConfig) -> None:
        super().__init__(config)
        assert config.plugin is not None  # checked by SensorConfig
        module_name, _, class_name = config.plugin.partition(":")
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError) as exc:
            raise SensorError(config.name, f"cannot load plugin {config.plugin!r}: {exc}") from exc
        self.plugin: PluginDriver = cls(config, **config.options)

    def _raw(self) -> float:
        return self.plugin.read()

    def close(self) -> None:
        self.plugin.close()


_DRIVERS: dict[SensorKind, type[GpioDriver]] = {
    SensorKind.ANALOG: AnalogDriver,
    SensorKind.DISTANCE: DistanceDriver,
    SensorKind.MOTION: MotionDriver,
    SensorKind.LIGHT: LightDriver,
    SensorKind.DIGITAL: DigitalDriver,
    SensorKind.LINE: LineDriver,
    SensorKind.CPU_TEMPERATURE: CpuTemperatureDriver,
    SensorKind.LOAD_AVERAGE: LoadAverageDriver,
    SensorKind.DISK_USAGE: DiskUsageDriver,
}


def build_driver(config: SensorConfig, pin_factory: Factory | None = None) -> Driver:
    """The driver for one configured sensor; raises :class:`SensorError` if it cannot open."""
    if config.kind is SensorKind.PLUGIN:
        return _PluginAdapter(config)
    return _DRIVERS[config.kind](config, pin_factory)
