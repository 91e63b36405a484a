"""Sensor profiles: named sets of sensors wired the same way on every Pi that uses them.

A profile gives the ``[[sensors]]`` tables of the edge config (keys of
``edge.settings.SensorConfig``) and the interfaces the firmware must switch on in
``config.txt``. Wiring for each profile is in ``firmware/GUIDE.md``.

>>> PROFILES["climate"].interfaces
('spi',)
>>> [s["name"] for s in PROFILES["tank"].sensors]
['level', 'float_switch', 'cpu_temperature']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = ["DEFAULT_PROFILE", "PROFILES", "Profile", "get_profile"]

DEFAULT_PROFILE = "system"

_SYSTEM: tuple[dict[str, Any], ...] = (
    {"name": "cpu_temperature", "kind": "cpu_temperature", "hz": 0.2, "unit": "degC"},
    {"name": "load_average", "kind": "load_average", "hz": 0.2},
    {"name": "disk_usage", "kind": "disk_usage", "hz": 0.05, "unit": "%"},
)


@dataclass(frozen=True, slots=True)
class Profile:
    """A named sensor set; ``interfaces`` is a subset of ``{"spi", "i2c"}``."""

    name: str
    description: str
    sensors: tuple[dict[str, Any], ...]
    interfaces: tuple[str, ...] = field(default=())


PROFILES: Mapping[str, Profile] = MappingProxyType(
    {
        "system": Profile(
            "system", "Board health only: CPU temperature, load, disk usage.", _SYSTEM
        ),
        "climate": Profile(
            "climate",
            "MCP3008 on SPI0: TMP36 (ch0), LDR divider (ch1), soil moisture probe (ch2).",
            (
                # TMP36: 10 mV/degC with a 500 mV offset; the raw value is volts.
                {
                    "name": "temperature",
                    "kind": "analog",
                    "channel": 0,
                    "hz": 1.0,
                    "unit": "degC",
                    "calibration": {"scale": 100.0, "offset": -50.0},
                },
                {"name": "light", "kind": "analog", "channel": 1, "hz": 1.0, "unit": "V"},
                {"name": "soil_moisture", "kind": "analog", "channel": 2, "hz": 0.2, "unit": "V"},
                _SYSTEM[0],
            ),
            ("spi",),
        ),
        "security": Profile(
            "security",
            "PIR motion sensor (GPIO4) and a door reed switch (GPIO17).",
            (
                {"name": "motion", "kind": "motion", "pin": 4, "hz": 10.0},
                {"name": "door", "kind": "digital", "pin": 17, "hz": 10.0},
                _SYSTEM[0],
            ),
        ),
        "tank": Profile(
            "tank",
            "HC-SR04 level sensor (trigger GPIO23, echo GPIO24) and a float switch (GPIO27).",
            (
                {
                    "name": "level",
                    "kind": "distance",
                    "trigger_pin": 23,
                    "echo_pin": 24,
                    "hz": 1.0,
                    "unit": "m",
                },
                {"name": "float_switch", "kind": "digital", "pin": 27, "hz": 5.0},
                _SYSTEM[0],
            ),
        ),
        "i2c-plugin": Profile(
            "i2c-plugin",
            "Board health plus I2C switched on for a plugin sensor you add to the config.",
            _SYSTEM,
            ("i2c",),
        ),
    }
)


def get_profile(name: str) -> Profile:
    """The profile called ``name``; ``KeyError`` listing the known ones otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(
            f"unknown sensor profile {name!r}; known: {', '.join(sorted(PROFILES))}"
        ) from None
