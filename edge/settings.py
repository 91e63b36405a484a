"""The edge agent's settings: one TOML file plus ``FIELDLINK_EDGE_*`` overrides.

Loaded once at the entry point with :meth:`EdgeSettings.load`; a bad value raises
:class:`~fieldlink.errors.ConfigError` naming the field and the file.

>>> settings = EdgeSettings.load(device="pi-07", site="lab")
>>> settings.mqtt.port, settings.buffer.durability_ms
(1883, 200)
"""

from __future__ import annotations

import itertools
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fieldlink.messages import DeviceId, Name
from fieldlink.settings import FieldlinkSettings, SettingsConfigDict

__all__ = [
    "BufferSettings",
    "Calibration",
    "EdgeSettings",
    "MqttSettings",
    "OutputConfig",
    "PublishSettings",
    "SensorConfig",
    "SensorKind",
    "WaveformConfig",
    "WaveformEvent",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MqttSettings(_Section):
    host: str = Field(default="127.0.0.1", description="Broker host name or address.")
    port: int = Field(default=1883, ge=1, le=65535, description="Broker TCP port.")
    username: str | None = Field(default=None, description="MQTT user name (the device id).")
    password: str | None = Field(default=None, description="MQTT password, if any.")
    tls: bool = Field(default=False, description="Connect with TLS.")
    ca_file: Path | None = Field(
        default=None, description="CA bundle that signed the broker's certificate (TLS)."
    )
    cert_file: Path | None = Field(default=None, description="Client certificate (mutual TLS).")
    key_file: Path | None = Field(default=None, description="Client private key (mutual TLS).")
    keepalive_s: int = Field(default=30, ge=5, le=3600, description="MQTT keepalive interval.")
    session_expiry_s: int = Field(
        default=7 * 24 * 3600,
        ge=0,
        description="How long the broker keeps this device's session (its subscriptions and "
        "queued commands) while it is offline.",
    )
    reconnect_min_s: float = Field(
        default=0.5, gt=0, description="First reconnect delay; doubles per failed attempt."
    )
    reconnect_max_s: float = Field(default=30.0, gt=0, description="Cap of the reconnect delay.")


class BufferSettings(_Section):
    path: Path = Field(
        default=Path("/var/lib/fieldlink/edge-buffer.sqlite3"),
        description="SQLite file holding every reading until the broker acknowledged it.",
    )
    max_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=64 * 1024,
        description="Cap on buffered reading bytes; beyond it the oldest samples are dropped.",
    )
    max_age_s: float = Field(
        default=30 * 24 * 3600,
        gt=0,
        description="Readings older than this (clock-synced ones) are dropped unpublished.",
    )
    durability_ms: int = Field(
        default=200,
        ge=0,
        le=60_000,
        description="Durability window: appends are committed (fsync) at most this late, so "
        "the SD card sees one write per window instead of one per reading. 0 commits each append.",
    )
    cap_override_path: Path | None = Field(
        default=None,
        description="Optional file holding a byte cap (one integer) that replaces max_bytes "
        "while the file exists; polled every second, so a running agent's cap can be shrunk "
        "(the lab's 'edge disk full' fault) and restored by deleting the file. A cap below "
        "the buffered bytes evicts by the drop policy at once (counted as buffer_full).",
    )


class PublishSettings(_Section):
    batch_size: int = Field(
        default=200, ge=1, le=1000, description="Most readings per MQTT message."
    )
    linger_ms: int = Field(
        default=100, ge=0, le=60_000, description="Longest a live reading waits for a batch."
    )
    inflight: int = Field(
        default=16, ge=1, le=1000, description="Most unacknowledged messages at any time."
    )
    drain_max_rate: float = Field(
        default=5000.0,
        gt=0,
        description="Most backlog readings/s published after a partition, on top of live ones.",
    )
    status_interval_s: float = Field(
        default=30.0, gt=0, description="Period of the DeviceStatus report."
    )


class SensorKind(StrEnum):
    ANALOG = "analog"
    """An MCP3008 channel: TMP36, LDR divider, soil moisture, any scaled voltage."""
    DISTANCE = "distance"
    """HC-SR04 ultrasonic ranger (``echo_pin``, ``trigger_pin``), in metres."""
    MOTION = "motion"
    """PIR motion sensor; 1.0 while motion is seen; edges are events."""
    LIGHT = "light"
    """LDR with a capacitor on one pin (gpiozero LightSensor); 0..1."""
    DIGITAL = "digital"
    """Door, reed or float switch, button (gpiozero Button); edges are events."""
    LINE = "line"
    """Line-follower sensor (gpiozero LineSensor); edges are events."""
    CPU_TEMPERATURE = "cpu_temperature"
    LOAD_AVERAGE = "load_average"
    DISK_USAGE = "disk_usage"
    PLUGIN = "plugin"
    """A driver that is not a gpiozero device, named by ``plugin = "module:Class"``."""


_NEEDS_PIN = {SensorKind.MOTION, SensorKind.LIGHT, SensorKind.DIGITAL, SensorKind.LINE}


class Calibration(_Section):
    """Raw reading -> physical value: linear (``scale``, ``offset``) or a table.

    A table is a list of ``[raw, value]`` points with increasing raw; values between points
    are interpolated, values outside are clamped to the ends.
    """

    scale: float = Field(default=1.0, description="value = raw * scale + offset.")
    offset: float = Field(default=0.0, description="Added after scaling.")
    table: list[tuple[float, float]] | None = Field(
        default=None, min_length=2, description="Piecewise-linear [raw, value] points."
    )

    @model_validator(mode="after")
    def _increasing(self) -> Calibration:
        if self.table is not None:
            raws = [raw for raw, _ in self.table]
            if any(b <= a for a, b in itertools.pairwise(raws)):
                raise ValueError("calibration table raw values must increase")
        return self


class WaveformEvent(_Section):
    """A scheduled override of a simulated signal, e.g. an overheat at t=120 s."""

    at_s: float = Field(ge=0, description="Seconds after the agent started.")
    duration_s: float | None = Field(
        default=None, gt=0, description="How long it lasts; forever when omitted."
    )
    kind: Literal["step", "ramp", "stuck", "spike", "dropout"] = Field(
        description="step: jump to value; ramp: move linearly to value over duration; stuck: "
        "freeze the signal; spike: one sample at value; dropout: the sensor fails."
    )
    value: float | None = Field(default=None, description="Target value for step/ramp/spike.")

    @model_validator(mode="after")
    def _value_given(self) -> WaveformEvent:
        if self.kind in ("step", "ramp", "spike") and self.value is None:
            raise ValueError(f"a {self.kind} event needs a value")
        if self.kind == "ramp" and self.duration_s is None:
            raise ValueError("a ramp needs a duration_s")
        return self


class WaveformConfig(_Section):
    """Seeded, deterministic signal driving a simulated sensor."""

    shape: Literal["daily", "constant", "events"] = Field(
        default="daily",
        description="daily: sinusoidal cycle + noise; constant: mean + noise; events: 0/1 "
        "signal with random activations (motion, door).",
    )
    mean: float = Field(default=20.0, description="Centre of the signal (physical units).")
    amplitude: float = Field(default=5.0, ge=0, description="Half the daily swing.")
    period_s: float = Field(default=86_400.0, gt=0, description="Cycle length.")
    phase_s: float = Field(default=0.0, description="Shift of the cycle.")
    noise: float = Field(default=0.1, ge=0, description="Std dev of Gaussian noise.")
    events_per_min: float = Field(default=2.0, ge=0, description="Mean activations per minute.")
    event_duration_s: float = Field(default=3.0, gt=0, description="How long one stays active.")
    spike_probability: float = Field(
        default=0.0, ge=0, le=1, description="Chance that any one sample is a random spike."
    )
    spike_magnitude: float = Field(default=10.0, description="Size of random spikes.")
    dropout_probability: float = Field(
        default=0.0, ge=0, le=1, description="Chance that any one sample fails."
    )
    seed: int | None = Field(default=None, description="RNG seed; derived from names if unset.")
    schedule: list[WaveformEvent] = Field(
        default_factory=list, description="Scheduled overrides (overheat, stuck, dropout)."
    )


class SensorConfig(_Section):
    """One named sensor and the hardware it sits on."""

    name: Name = Field(description="Sensor name, unique per device; appears on every reading.")
    kind: SensorKind = Field(description="Driver to use.")
    hz: float = Field(default=1.0, gt=0, le=1000, description="Sample rate.")
    unit: str = Field(default="", max_length=32, description="Unit of the calibrated value.")
    pin: int | str | None = Field(default=None, description="GPIO pin (BCM number or name).")
    echo_pin: int | str | None = Field(default=None, description="HC-SR04 echo pin.")
    trigger_pin: int | str | None = Field(default=None, description="HC-SR04 trigger pin.")
    channel: int | None = Field(default=None, ge=0, le=7, description="MCP3008 channel.")
    max_voltage: float = Field(default=3.3, gt=0, description="MCP3008 reference voltage.")
    calibration: Calibration = Field(
        default_factory=Calibration, description="Raw value -> physical value."
    )
    valid_range: tuple[float, float] | None = Field(
        default=None, description="[min, max] physical range; values outside are flagged."
    )
    stuck_after_s: float | None = Field(
        default=None,
        gt=0,
        description="Flag readings 'stuck' once the value has not changed "
        "for this long (a frozen ADC or a dead probe).",
    )
    plugin: str | None = Field(default=None, description="'module:Class' of a plugin driver.")
    options: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="Extra keyword arguments for a plugin driver."
    )
    waveform: WaveformConfig = Field(
        default_factory=WaveformConfig, description="Signal used when running --simulate."
    )

    @model_validator(mode="after")
    def _wiring(self) -> SensorConfig:
        if self.kind in _NEEDS_PIN and self.pin is None:
            raise ValueError(f"a {self.kind.value} sensor needs a pin")
        if self.kind is SensorKind.ANALOG and self.channel is None:
            raise ValueError("an analog sensor needs an MCP3008 channel")
        if self.kind is SensorKind.DISTANCE and (self.echo_pin is None or self.trigger_pin is None):
            raise ValueError("a distance sensor needs echo_pin and trigger_pin")
        if self.kind is SensorKind.PLUGIN and (self.plugin is None or ":" not in self.plugin):
            raise ValueError("a plugin sensor needs plugin = 'module:Class'")
        return self

    @property
    def digital(self) -> bool:
        """Whether this sensor reports edges as events."""
        return self.kind in (SensorKind.MOTION, SensorKind.DIGITAL, SensorKind.LINE)


class OutputConfig(_Section):
    """An output the cloud can drive: an LED or a buzzer, switched by alerts or commands."""

    name: Name = Field(description="Output name used by DriveOutput commands.")
    kind: Literal["led", "buzzer"] = Field(default="led", description="gpiozero device class.")
    pin: int | str = Field(description="GPIO pin.")
    alert_rules: list[str] = Field(
        default_factory=list,
        description="Alert rules that switch it on while open ('*' for any rule).",
    )


class EdgeSettings(FieldlinkSettings):
    """Everything one edge agent needs. See ``edge/edge.example.toml``."""

    model_config = SettingsConfigDict(env_prefix="FIELDLINK_EDGE_")

    device: DeviceId = Field(description="This device's id: MQTT client id and topic level.")
    site: Name = Field(default="default", description="Site the device belongs to.")
    mqtt: MqttSettings = Field(default_factory=MqttSettings, description="Broker connection.")
    buffer: BufferSettings = Field(default_factory=BufferSettings, description="Local buffer.")
    publish: PublishSettings = Field(
        default_factory=PublishSettings, description="Batching, window and drain rate."
    )
    sensors: list[SensorConfig] = Field(default_factory=list, description="Sensors to sample.")
    outputs: list[OutputConfig] = Field(default_factory=list, description="Drivable outputs.")
    clock: Literal["kernel", "trusted"] = Field(
        default="kernel",
        description="kernel: trust timestamps only once adjtimex reports the clock synchronized "
        "(a Pi without RTC); trusted: assume the host keeps the clock right (laptops, containers).",
    )
    simulation_seed: int = Field(default=0, description="Base seed of simulated waveforms.")
    simulated_unsynced_s: float = Field(
        default=0.0,
        ge=0,
        description="With --simulate: behave like a Pi without RTC whose clock reads ~1970 and "
        "reports unsynchronized for this many seconds after start.",
    )
    simulation_record: bool = Field(
        default=False,
        description="With --simulate: also record every committed reading in the buffer "
        "file's 'generated' table (same transaction, never deleted): the ground truth a judge "
        "compares deliveries with. Read it with edge.buffer.read_generated.",
    )
    shutdown_drain_s: float = Field(
        default=5.0, ge=0, description="On SIGTERM, keep publishing for at most this long."
    )
    metrics_file: Path | None = Field(
        default=None,
        description="Write Prometheus text metrics here each status interval (for "
        "node_exporter's textfile collector).",
    )

    @model_validator(mode="after")
    def _unique_names(self) -> EdgeSettings:
        for label, names in (
            ("sensor", [s.name for s in self.sensors]),
            ("output", [o.name for o in self.outputs]),
        ):
            duplicates = sorted({n for n in names if names.count(n) > 1})
            if duplicates:
                raise ValueError(f"duplicate {label} names: {', '.join(duplicates)}")
        return self
