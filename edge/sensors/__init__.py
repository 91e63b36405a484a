"""Sensors: gpiozero drivers, calibration, and the simulated hardware that drives them."""

from .drivers import Driver, PluginDriver, build_driver
from .simulation import MockMCP3008, Simulator
from .waveforms import Waveform, derive_seed

__all__ = [
    "Driver",
    "MockMCP3008",
    "PluginDriver",
    "Simulator",
    "Waveform",
    "build_driver",
    "derive_seed",
]
