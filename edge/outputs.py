"""Outputs the cloud can drive: gpiozero LEDs and buzzers, switched by alerts and commands.

>>> from gpiozero.pins.mock import MockFactory
>>> from edge.settings import OutputConfig
>>> outputs = Outputs([OutputConfig(name="warn", pin=5, alert_rules=["overheat"])],
...                   pin_factory=MockFactory())
>>> outputs.alert("overheat", "a1", opened=True); outputs.is_on("warn")
True
>>> outputs.alert("overheat", "a1", opened=False); outputs.is_on("warn")
False
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import gpiozero
from gpiozero.pins import Factory

from .settings import OutputConfig

__all__ = ["Outputs"]

logger = logging.getLogger(__name__)


class Outputs:
    """The device's drivable outputs. An output tied to alert rules is on while any alert
    episode of those rules is open."""

    def __init__(self, configs: Sequence[OutputConfig], *, pin_factory: Factory | None) -> None:
        self._configs = {c.name: c for c in configs}
        self._devices: dict[str, Any] = {}
        for config in configs:
            cls = gpiozero.Buzzer if config.kind == "buzzer" else gpiozero.LED
            self._devices[config.name] = cls(config.pin, pin_factory=pin_factory)
        self._open: dict[str, set[str]] = {name: set() for name in self._configs}

    @property
    def names(self) -> list[str]:
        return sorted(self._configs)

    def is_on(self, name: str) -> bool:
        return bool(self._devices[name].is_active)

    def drive(self, name: str, state: str) -> bool:
        """Switch an output: ``on``, ``off`` or ``blink``; False if there is no such output."""
        device = self._devices.get(name)
        if device is None:
            return False
        if state == "on":
            device.on()
        elif state == "off":
            device.off()
        else:
            device.blink(on_time=0.5, off_time=0.5)
        logger.info("output %s -> %s", name, state)
        return True

    def alert(self, rule: str, alert_id: str, *, opened: bool) -> None:
        """An alert episode for this device opened or closed."""
        for name, config in self._configs.items():
            if rule not in config.alert_rules and "*" not in config.alert_rules:
                continue
            episodes = self._open[name]
            was_on = bool(episodes)
            if opened:
                episodes.add(alert_id)
            else:
                episodes.discard(alert_id)
            if bool(episodes) != was_on:
                self.drive(name, "on" if episodes else "off")

    def close(self) -> None:
        for device in self._devices.values():
            device.close()
