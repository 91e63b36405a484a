"""A partition scenario as data: the fleet, a timeline of faults, and what must hold after.

Scenarios live in ``lab/scenarios/*.yaml``. Times are seconds from the start of the run;
:meth:`Scenario.shortened` scales a scenario's timeline down for CI while keeping its shape.

>>> scenario = Scenario.model_validate({
...     "name": "one-device-drop", "duration_s": 120,
...     "fleet": {"devices": 3, "sample_hz": 5},
...     "faults": [{"kind": "partition", "at_s": 20, "duration_s": 40,
...                 "target": {"devices": ["dev-001"]}, "mode": "drop"}],
... })
>>> scenario.faults[0].end_s
60.0
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from fieldlink.errors import ConfigError
from lab.stack.spec import LAB_DRAIN_MAX_RATE

__all__ = [
    "AlertExpectation",
    "Expectations",
    "Fault",
    "FaultKind",
    "Fleet",
    "Scenario",
    "Target",
    "WaveformOverride",
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FaultKind(StrEnum):
    PARTITION = "partition"
    """Cut devices off from the broker (link down or nftables drop, or the proxy)."""
    DEGRADE = "degrade"
    """Latency, jitter, loss and/or a bandwidth cap between devices and the broker."""
    BROKER_RESTART = "broker_restart"
    KAFKA_RESTART = "kafka_restart"
    INFLUX_OUTAGE = "influx_outage"
    WORKER_KILL = "worker_kill"
    BRIDGE_KILL = "bridge_kill"
    AGENT_KILL = "agent_kill"
    """Edge power loss: the agent is SIGKILLed and restarted after ``duration_s``."""
    DISK_FULL = "disk_full"
    """The edge buffer's cap shrinks to ``buffer_cap_bytes`` for the fault's duration."""
    CLOCK_UNSYNCED = "clock_unsynced"
    """Devices boot with an unsynchronized clock that syncs after ``duration_s``."""


_DEVICE_FAULTS = {
    FaultKind.PARTITION,
    FaultKind.DEGRADE,
    FaultKind.AGENT_KILL,
    FaultKind.DISK_FULL,
    FaultKind.CLOCK_UNSYNCED,
}


class Target(_Model):
    """Which devices a fault hits: all of a site, a list, or an index range of the fleet."""

    site: bool = Field(default=False, description="Every device of the fleet.")
    devices: tuple[str, ...] = ()
    first: int | None = Field(default=None, ge=0, description="First fleet index (inclusive).")
    last: int | None = Field(default=None, ge=0, description="Last fleet index (inclusive).")

    @model_validator(mode="after")
    def _one_way(self) -> Self:
        ways = sum([self.site, bool(self.devices), self.first is not None])
        if ways != 1:
            raise ValueError("target needs exactly one of: site, devices, first/last")
        if (self.first is None) != (self.last is None):
            raise ValueError("first and last go together")
        if self.first is not None and self.last is not None and self.last < self.first:
            raise ValueError("last must be >= first")
        return self

    def resolve(self, fleet: list[str]) -> list[str]:
        if self.site:
            return list(fleet)
        if self.devices:
            unknown = sorted(set(self.devices) - set(fleet))
            if unknown:
                raise ValueError(f"unknown devices {unknown}; the fleet is {fleet[0]}..")
            return list(self.devices)
        first, last = self.first or 0, self.last or 0
        if last >= len(fleet):
            raise ValueError(f"index {last} is beyond a fleet of {len(fleet)}")
        return fleet[first : last + 1]


class Fault(_Model):
    kind: FaultKind
    at_s: float = Field(ge=0, description="When the fault starts, seconds from run start.")
    duration_s: float = Field(default=0, ge=0, description="How long it lasts (0: instant).")
    target: Target | None = Field(default=None, description="Devices hit (device faults).")
    mode: Literal["link_down", "drop", "proxy"] = "drop"
    latency_ms: float = Field(default=0, ge=0)
    jitter_ms: float = Field(default=0, ge=0)
    loss: float = Field(default=0, ge=0, lt=1)
    rate: str | None = Field(default=None, pattern=r"^\d+(k|m)?bit$")
    buffer_cap_bytes: int | None = Field(default=None, gt=0)

    @property
    def end_s(self) -> float:
        return self.at_s + self.duration_s

    @model_validator(mode="after")
    def _fits_kind(self) -> Self:
        if self.kind in _DEVICE_FAULTS and self.target is None:
            raise ValueError(f"a {self.kind.value} fault needs a target")
        if self.kind not in _DEVICE_FAULTS and self.target is not None:
            raise ValueError(f"a {self.kind.value} fault hits a server, not devices")
        if self.kind is FaultKind.DISK_FULL and self.buffer_cap_bytes is None:
            raise ValueError("a disk_full fault needs buffer_cap_bytes")
        degrading = self.latency_ms or self.jitter_ms or self.loss or self.rate
        if self.kind is FaultKind.DEGRADE and not degrading:
            raise ValueError("a degrade fault needs latency_ms, jitter_ms, loss or rate")
        return self


class WaveformOverride(_Model):
    """Scripted behaviour for one device's sensor, e.g. an overheat at t=120 s."""

    device: str
    sensor: str
    at_s: float = Field(ge=0)
    duration_s: float = Field(gt=0)
    shape: Literal["step", "spike", "stuck", "dropout"] = "step"
    value: float | None = None


class Fleet(_Model):
    devices: int = Field(default=5, ge=1, le=500)
    site: str = Field(default="lab", pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    sample_hz: float = Field(default=5, gt=0, le=1000)
    profile: str = Field(default="climate", description="Sensor profile of every device.")
    buffer_cap_bytes: int = Field(default=64 * 1024 * 1024, gt=0)
    drain_max_rate: float = Field(
        default=LAB_DRAIN_MAX_RATE,
        gt=0,
        description="Backlog readings/s each agent publishes after a partition, beside live "
        "ones (the edge's publish.drain_max_rate; see lab.stack.spec.LAB_DRAIN_MAX_RATE).",
    )
    overrides: tuple[WaveformOverride, ...] = ()

    def device_ids(self) -> list[str]:
        return [f"dev-{index:03d}" for index in range(self.devices)]


class AlertExpectation(_Model):
    rule: str
    device: str
    episodes: int = Field(default=1, ge=0)


class Expectations(_Model):
    """What must hold after the run. Loss and duplicates are exact counts."""

    lost: int = Field(default=0, ge=0, description="Readings missing beyond policy drops.")
    duplicates: int = Field(default=0, ge=0)
    policy_drops: bool = Field(
        default=False, description="The buffer policy is expected to drop readings."
    )
    aggregates_match: bool = True
    alerts: tuple[AlertExpectation, ...] = ()
    catch_up_s_max: float | None = Field(default=None, gt=0)
    live_p99_ms_max: float | None = Field(default=None, gt=0)


class Scenario(_Model):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    description: str = ""
    seed: int = 1
    duration_s: float = Field(gt=0)
    settle_s: float = Field(
        default=30, ge=0, description="Quiet time after the run for the pipeline to catch up."
    )
    fleet: Fleet = Fleet()
    faults: tuple[Fault, ...] = ()
    expect: Expectations = Expectations()

    @model_validator(mode="after")
    def _faults_inside_run(self) -> Self:
        fleet = self.fleet.device_ids()
        for index, fault in enumerate(self.faults):
            if fault.end_s > self.duration_s:
                raise ValueError(f"faults[{index}] ends at {fault.end_s}s, after the run")
            if fault.target is not None:
                fault.target.resolve(fleet)
        for override in self.fleet.overrides:
            if override.device not in fleet:
                raise ValueError(f"override for unknown device {override.device!r}")
        return self

    def shortened(self, factor: float) -> Scenario:
        """The same scenario with every time multiplied by ``factor`` (0 < factor <= 1)."""
        if not 0 < factor <= 1:
            raise ValueError("factor must be in (0, 1]")
        data = self.model_dump()
        data["duration_s"] *= factor
        data["settle_s"] *= factor
        for fault in data["faults"]:
            fault["at_s"] *= factor
            fault["duration_s"] *= factor
        for override in data["fleet"]["overrides"]:
            override["at_s"] *= factor
            override["duration_s"] *= factor
        return Scenario.model_validate(data)

    @classmethod
    def load(cls, path: Path) -> Scenario:
        """Read a scenario YAML file; errors name the file and the field."""
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read scenario: {exc}", source=path) from None
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            field = ".".join(str(part) for part in first["loc"]) or None
            raise ConfigError(str(exc), field=field, source=path) from None
