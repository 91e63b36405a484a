"""Sensors: gpiozero drivers, calibration, and the simulated hardware that drives them."""

from .drivers import Driver, PluginDriver, build_driver
from .simulation import AdcModel, MockMCP3008, SimFactory, Simulator
from .waveforms import Waveform, derive_seed

__all__ = [
    "AdcModel",
    "Driver",
    "MockMCP3008",
    "PluginDriver",
    "SimFactory",
    "Simulator",
    "Waveform",
    "build_driver",
    "derive_seed",
]
