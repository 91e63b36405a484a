"""Simulated hardware: the real drivers on gpiozero's ``MockFactory``, driven by waveforms.

Nothing above the pin factory knows it is simulated: the same gpiozero device classes read
mock pins (and a mock MCP3008 on the mock SPI bus) whose levels, echo times, charge times
and files the :class:`Simulator` sets from each sensor's waveform.

>>> from gpiozero.pins.mock import MockFactory
>>> from edge.settings import SensorConfig, WaveformConfig
>>> temp = SensorConfig(name="temp", kind="analog", channel=0, unit="degC",
...                     calibration={"scale": 100.0, "offset": -50.0},
...                     waveform=WaveformConfig(shape="constant", mean=21.0, noise=0.0))
>>> sim = Simulator([temp], MockFactory(), seed=1)
>>> sim.drive_all(0.0)
>>> round(sim.drivers[0].read(), 1)
21.0
>>> sim.close()
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gpiozero import Device
from gpiozero.pins import SPI
from gpiozero.pins.mock import (
    MockChargingPin,
    MockFactory,
    MockSPIDevice,
    MockTriggerPin,
)

from ..settings import SensorConfig, SensorKind
from . import calibration
from .drivers import Driver, build_driver
from .waveforms import Waveform, derive_seed

__all__ = ["AdcModel", "MockMCP3008", "SimFactory", "Simulator"]

logger = logging.getLogger(__name__)

_SPEED_OF_SOUND_M_S = 343.26
_LIGHT_CHARGE_LIMIT_S = 0.01  # gpiozero LightSensor's default charge_time_limit


class MockMCP3008(MockSPIDevice):  # type: ignore[misc]  # gpiozero is untyped
    """The slave side of an MCP3008 on the mock SPI bus: answers each channel's voltage."""

    def __init__(self, pin_factory: MockFactory, max_voltage: float = 3.3) -> None:
        super().__init__(11, 10, 9, 8, pin_factory=pin_factory)
        self.max_voltage = max_voltage
        self.voltages = [0.0] * 8
        self.rx_buf: list[int] = []
        self.state = "idle"

    def on_start(self) -> None:
        super().on_start()
        self.state = "idle"

    def on_bit(self) -> None:
        # Tx from the host: preamble zeros, start bit 1, single-ended bit, 3 channel bits.
        if self.state == "idle":
            if self.rx_buf[-1]:
                self.state = "command"
                self.rx_buf = []
        elif self.state == "command" and len(self.rx_buf) == 4:
            channel = self.rx_word() & 0b111
            volts = min(max(self.voltages[channel], 0.0), self.max_voltage)
            self.tx_word(round(volts / self.max_voltage * 1023), 12)
            self.state = "reply"


class _AdcBus(SPI):  # type: ignore[misc]  # gpiozero is untyped
    """A mock SPI interface that answers MCP3008 conversions in one step.

    gpiozero's ``MockFactory`` bit-bangs SPI in Python (about 50 pin toggles per reading);
    this bus decodes the request word and replies with the simulated channel's code, so a
    simulated fleet costs what the agent costs, not what bit-banging costs.
    """

    def __init__(self, *args: object, pin_factory: SimFactory, **kwargs: object) -> None:
        super().__init__(pin_factory=pin_factory)
        self._model = pin_factory.adc

    def _get_clock_mode(self) -> int:
        return 0

    def transfer(self, data: list[int]) -> list[int]:
        pattern = 0
        for word in data:
            pattern = pattern << 8 | word
        channel = (pattern >> 12) & 0b111  # start, single-ended, 3 channel bits, 12 bits later
        code = self._model.code(channel)
        return [0] * (len(data) - 2) + [(code >> 8) & 0b11, code & 0xFF]


class AdcModel:
    """The analog side of a simulated MCP3008: a voltage per channel."""

    def __init__(self, max_voltage: float = 3.3) -> None:
        self.max_voltage = max_voltage
        self.voltages = [0.0] * 8

    def code(self, channel: int) -> int:
        volts = min(max(self.voltages[channel], 0.0), self.max_voltage)
        return round(volts / self.max_voltage * 1023)


class SimFactory(MockFactory):  # type: ignore[misc]  # gpiozero is untyped
    """``MockFactory`` whose SPI bus is :class:`_AdcBus` (fast); pins are ordinary mock pins."""

    def __init__(self, max_voltage: float = 3.3) -> None:
        super().__init__()
        self.adc = AdcModel(max_voltage)

    def _get_spi_class(self, shared: bool, hardware: bool) -> type[SPI]:
        return _AdcBus


class Simulator:
    """Builds the drivers on a ``MockFactory`` and drives them from their waveforms."""

    def __init__(
        self,
        configs: Sequence[SensorConfig],
        factory: MockFactory,
        *,
        seed: int = 0,
        device: str = "",
    ) -> None:
        self.factory = factory
        if Device.pin_factory is None:
            # gpiozero 2.0.1's SPISoftwareBus calls Device.__init__() without the pin factory
            # it was given, which probes for real GPIO hardware and fails off a Pi.
            Device.pin_factory = factory
        # Simulated /sys and /proc files live in RAM when possible, like the real ones.
        shm = Path("/dev/shm")  # noqa: S108 - a private mkdtemp directory inside it
        where = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
        self._dir = Path(tempfile.mkdtemp(prefix="fieldlink-sim-", dir=where))
        self._mcp: MockMCP3008 | AdcModel | None = None
        self._active: dict[str, bool] = {}
        self._files: dict[str, int] = {}
        self.drivers: list[Driver] = []
        self.waveforms: dict[str, Waveform] = {}
        for config in configs:
            config = self._prepare(config)
            self.drivers.append(build_driver(config, factory))
            self.waveforms[config.name] = Waveform(
                config.waveform, seed=derive_seed(seed, device, config.name)
            )

    def _prepare(self, config: SensorConfig) -> SensorConfig:
        f = self.factory
        if config.kind is SensorKind.ANALOG and self._mcp is None:
            self._mcp = f.adc if isinstance(f, SimFactory) else MockMCP3008(f, config.max_voltage)
        elif config.kind is SensorKind.DISTANCE:
            echo = f.pin(config.echo_pin)
            f.pin(config.trigger_pin, pin_class=MockTriggerPin, echo_pin=echo, echo_time=0.004)
        elif config.kind is SensorKind.LIGHT:
            f.pin(config.pin, pin_class=MockChargingPin, charge_time=0.005)
        elif config.kind is SensorKind.CPU_TEMPERATURE:
            path = self._dir / f"{config.name}.temp"
            self._files[config.name] = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            self._write(config.name, "45000")
            return config.model_copy(
                update={"options": {**config.options, "sensor_file": str(path)}}
            )
        elif config.kind is SensorKind.LOAD_AVERAGE:
            path = self._dir / f"{config.name}.loadavg"
            self._files[config.name] = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            self._write(config.name, "0.10 0.10 0.10 1/100 1")
            return config.model_copy(
                update={"options": {**config.options, "load_average_file": str(path)}}
            )
        return config

    def drive_all(self, t_s: float) -> None:
        for driver in self.drivers:
            self.drive(driver, t_s)

    def drive(self, driver: Driver, t_s: float) -> None:
        """Set ``driver``'s simulated hardware to its waveform's value at ``t_s``."""
        config = driver.config
        value = self.waveforms[config.name].value_at(t_s)
        if value is None:
            driver.fault = "simulated dropout"
            return
        driver.fault = None
        raw = calibration.invert(config.calibration, value)
        device: Any = getattr(driver, "device", None)
        kind = config.kind
        if kind is SensorKind.ANALOG and self._mcp is not None and config.channel is not None:
            self._mcp.voltages[config.channel] = raw
        elif kind is SensorKind.DISTANCE:
            device.trigger.echo_time = max(raw, 0.0) * 2 / _SPEED_OF_SOUND_M_S
        elif kind is SensorKind.LIGHT:
            device.pin.charge_time = (1 - min(max(raw, 0.0), 1.0)) * _LIGHT_CHARGE_LIMIT_S
        elif kind in (SensorKind.MOTION, SensorKind.DIGITAL, SensorKind.LINE):
            active = raw >= 0.5
            if self._active.get(config.name) != active:
                self._active[config.name] = active
                # Active means low on a pulled-up input (a switch to GND), high otherwise.
                if active != bool(device.pull_up):
                    device.pin.drive_high()
                else:
                    device.pin.drive_low()
        elif kind is SensorKind.CPU_TEMPERATURE:
            self._write(config.name, f"{round(raw * 1000)}")
        elif kind is SensorKind.LOAD_AVERAGE:
            self._write(config.name, f"{raw:.2f} {raw:.2f} {raw:.2f} 1/100 1")
        elif kind is SensorKind.PLUGIN:
            simulate = getattr(getattr(driver, "plugin", None), "simulate", None)
            if callable(simulate):
                simulate(raw)

    def _write(self, name: str, text: str) -> None:
        # A fixed-width record rewritten in place: no open/truncate per sample, and a reader
        # never sees an empty file (the simulated /sys and /proc files are read concurrently).
        os.pwrite(self._files[name], f"{text:<40}\n".encode(), 0)

    def close(self) -> None:
        for fd in self._files.values():
            os.close(fd)
        for driver in self.drivers:
            driver.close()
        if isinstance(self._mcp, MockMCP3008):
            self._mcp.close()
        for path in self._dir.iterdir():
            path.unlink()
        self._dir.rmdir()
