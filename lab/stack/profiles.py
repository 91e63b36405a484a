"""The simulated sensors of a lab device, by profile.

Every profile has a ``temp`` sensor (a TMP36 on an MCP3008 channel with a daily cycle), so a
scenario can say "dev-007 overheats at t=120 s" on any fleet; ``door`` adds a reed switch
whose edges are events, which the buffer policy keeps when the disk fills.

>>> [s["name"] for s in sensors_for("door", hz=5, seed=1)]
['temp', 'door']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .spec import SensorEvent

__all__ = ["PROFILES", "sensors_for"]

PROFILES = ("climate", "door")


def sensors_for(
    profile: str, *, hz: float, seed: int, events: Sequence[SensorEvent] = ()
) -> list[dict[str, Any]]:
    """``[[sensors]]`` tables of the edge config for one device."""
    if profile not in PROFILES:
        raise ValueError(f"unknown lab profile {profile!r}; known: {', '.join(PROFILES)}")

    def schedule(sensor: str) -> list[dict[str, Any]]:
        out = []
        for event in events:
            if event.sensor != sensor:
                continue
            item: dict[str, Any] = {
                "at_s": event.at_s,
                "duration_s": event.duration_s,
                "kind": event.kind,
            }
            if event.value is not None:
                item["value"] = event.value
            out.append(item)
        return out

    sensors: list[dict[str, Any]] = [
        {
            "name": "temp",
            "kind": "analog",
            "channel": 0,
            "hz": hz,
            "unit": "degC",
            "calibration": {"scale": 100.0, "offset": -50.0},
            "waveform": {
                "shape": "daily",
                "mean": 21.0,
                "amplitude": 4.0,
                "noise": 0.1,
                "seed": seed,
                "schedule": schedule("temp"),
            },
        }
    ]
    if profile == "door":
        sensors.append(
            {
                "name": "door",
                "kind": "digital",
                "pin": 17,
                "hz": hz,
                "waveform": {
                    "shape": "events",
                    "events_per_min": 6,
                    "event_duration_s": 3,
                    "seed": seed + 1,
                    "schedule": schedule("door"),
                },
            }
        )
    return sensors
