"""What a lab stack runs: the fleet and the servers' shape, as one frozen value.

>>> spec = StackSpec(devices=3, sample_hz=2)
>>> spec.device_ids()
['dev-000', 'dev-001', 'dev-002']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["LAB_DRAIN_MAX_RATE", "SensorEvent", "StackSpec"]

LAB_DRAIN_MAX_RATE = 200.0
"""Backlog readings/s each lab agent publishes after a partition, beside its live readings
(the edge's ``publish.drain_max_rate``, 5,000 by default): sized so a whole fleet draining
at once stays within what one worker sharing two cores with the lab keeps up with, so the
backlog never queues ahead of live data in Kafka (``deploy/SIZING.md``, rule 4)."""


@dataclass(frozen=True, slots=True)
class SensorEvent:
    """A scheduled change of one device's simulated sensor (the edge's waveform schedule)."""

    device: str
    sensor: str
    at_s: float
    duration_s: float
    kind: str = "step"
    value: float | None = None


@dataclass(frozen=True, slots=True)
class StackSpec:
    """The stack to run. ``run_dir`` None means a new temporary directory.

    ``unsynced_s`` maps a device to how long it boots with an unsynchronized clock;
    ``proxied`` lists devices that reach the broker through a fault proxy even when
    namespaces are available (latency, jitter and loss need one).
    """

    devices: int = 5
    site: str = "lab"
    sample_hz: float = 5.0
    profile: str = "climate"
    buffer_cap_bytes: int = 64 * 1024 * 1024
    drain_max_rate: float = LAB_DRAIN_MAX_RATE
    workers: int = 1
    partitions: int = 4
    seed: int = 1
    run_dir: Path | None = None
    use_namespaces: bool | None = None
    """None: namespaces when available (root, ip, nft, tc), else a proxy per device."""
    events: tuple[SensorEvent, ...] = ()
    unsynced_s: Mapping[str, float] = field(default_factory=dict)
    proxied: frozenset[str] = frozenset()
    status_interval_s: float = 5.0
    deadman_silent_s: float = 60.0
    overheat_above: float = 60.0
    overheat_clear: float = 50.0
    record_generated: bool = True
    api_port: int | None = None
    reports_dir: Path | None = None
    """Replay reports the dashboard lists (the API's ``reports_dir``); None: none."""
    extra_cloud: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.devices < 1:
            raise ValueError("a fleet has at least one device")
        if self.workers < 1 or self.workers > self.partitions:
            raise ValueError("workers must be between 1 and the partition count")
        if self.drain_max_rate <= 0:
            raise ValueError("drain_max_rate must be positive")
        if self.sample_hz <= 0:
            raise ValueError("sample_hz must be positive")

    def device_ids(self) -> list[str]:
        return [f"dev-{index:03d}" for index in range(self.devices)]
