"""The wire contracts: every message that crosses a process boundary.

All models are immutable pydantic v2 models with a ``v`` (schema version) and a ``type``
discriminator, so any payload can be decoded without knowing where it came from. Times carry
their unit in the name: ``ts_ns`` is nanoseconds since the Unix epoch (event time),
``mono_ns`` nanoseconds of the device's monotonic clock.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

__all__ = [
    "SCHEMA_VERSION",
    "Alert",
    "AlertState",
    "ClockState",
    "Command",
    "DeviceId",
    "DeviceStatus",
    "DriveOutput",
    "DropReason",
    "Message",
    "Name",
    "Quality",
    "Reading",
    "ReadingBatch",
    "ReadingKind",
    "RequestStatus",
    "SetSampleRate",
]

SCHEMA_VERSION: Final = 1
"""The schema version this release writes. Decoders refuse payloads with a higher one."""

_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"

DeviceId = Annotated[
    str,
    Field(
        pattern=_NAME_PATTERN,
        description="Device identity: lower-case letters, digits, '-' and '_', 1-63 chars. "
        "It is an MQTT topic level and a Kafka key, so it may not contain '/', '+' or '#'.",
    ),
]
Name = Annotated[
    str,
    Field(pattern=_NAME_PATTERN, description="A site or sensor name; same rules as DeviceId."),
]
Unit = Annotated[str, Field(max_length=32, description="Unit of the value, e.g. 'degC'.")]
TimestampNs = Annotated[
    int, Field(ge=0, lt=2**63, description="Nanoseconds since the Unix epoch (UTC).")
]
Seq = Annotated[int, Field(ge=0, lt=2**63)]
BootId = Annotated[
    str,
    Field(
        pattern=r"^[0-9a-f]{32}$",
        description="Random 128-bit id (hex) chosen when the agent's buffer is created or the "
        "device boots; with seq it identifies a reading.",
    ),
]


class Quality(StrEnum):
    """Flags describing how far a reading can be trusted. An empty set means good."""

    BAD = "bad"
    """The sensor failed to produce a value; ``value`` is ``None``."""
    OUT_OF_RANGE = "out_of_range"
    """The value lies outside the sensor's physical range."""
    STUCK = "stuck"
    """The value has not changed for longer than the sensor's stuck threshold."""
    CLOCK_UNSYNCED = "clock_unsynced"
    """Sampled before the system clock was synchronized; ``ts_ns`` is not trustworthy."""
    RESTAMPED = "restamped"
    """Sampled before clock sync and re-stamped from the monotonic offset once it synced."""


class ReadingKind(StrEnum):
    SAMPLE = "sample"
    """A periodic sample: routine, the first to go when the buffer must drop data."""
    EVENT = "event"
    """An edge of a digital input (door opened, motion seen): kept when routine data is dropped."""


class DropReason(StrEnum):
    """Why the edge buffer discarded readings that were sampled but never published."""

    BUFFER_FULL = "buffer_full"
    MAX_AGE = "max_age"
    DISK_FULL = "disk_full"


class AlertState(StrEnum):
    OPEN = "open"
    CLOSE = "close"


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)

    v: Literal[1] = Field(default=SCHEMA_VERSION, description="Schema version of this payload.")


class Reading(BaseModel):
    """One sample or event from one sensor of one device.

    >>> Reading(device="pi-07", sensor="temp", value=21.5, unit="degC",
    ...         ts_ns=1_700_000_000_000_000_000, seq=42).quality
    frozenset()
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    device: DeviceId
    sensor: Name
    value: float | None = Field(
        description="The measured value; None only when the reading is flagged 'bad'."
    )
    unit: Unit = ""
    ts_ns: TimestampNs = Field(description="Event time: when the sample was taken.")
    mono_ns: int | None = Field(
        default=None, ge=0, description="Device monotonic clock at sampling, for re-stamping."
    )
    seq: Seq = Field(description="Per-device sequence number, strictly increasing, never reused.")
    kind: ReadingKind = ReadingKind.SAMPLE
    quality: frozenset[Quality] = frozenset()
    clock_synced: bool = True

    @field_validator("value")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("value must be finite; use None with quality 'bad' instead")
        return value

    @model_validator(mode="after")
    def _bad_has_no_value(self) -> Reading:
        if self.value is None and Quality.BAD not in self.quality:
            raise ValueError("a reading without a value must carry the 'bad' quality flag")
        return self


class ReadingBatch(_Message):
    """What an edge agent publishes: consecutive readings of one device.

    ``seq_first``/``seq_last`` bound the seqs inside; they need not be contiguous (a batch
    may interleave live readings with a backlog), but they are strictly increasing.
    """

    type: Literal["reading_batch"] = "reading_batch"
    device: DeviceId
    site: Name
    boot_id: BootId
    seq_first: Seq
    seq_last: Seq
    readings: tuple[Reading, ...] = Field(min_length=1)
    backlog: bool = Field(
        default=False,
        description="Drained from the edge buffer (sampled before the current connection "
        "came up): a bridge with backlog_lane on puts it on the backlog topic, so live "
        "batches do not queue behind a drain. Left out of the payload when false, so live "
        "batches read the same as before the field existed.",
    )

    @model_serializer(mode="wrap")
    def _live_as_before(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if not self.backlog:
            data.pop("backlog", None)
        return data

    @model_validator(mode="after")
    def _consistent(self) -> ReadingBatch:
        previous = -1
        for reading in self.readings:
            if reading.device != self.device:
                raise ValueError(
                    f"reading seq {reading.seq} belongs to device {reading.device!r}, "
                    f"not {self.device!r}"
                )
            if reading.seq <= previous:
                raise ValueError("reading seqs must be strictly increasing within a batch")
            previous = reading.seq
        if self.readings[0].seq != self.seq_first or self.readings[-1].seq != self.seq_last:
            raise ValueError("seq_first/seq_last must equal the first and last reading's seq")
        return self


class ClockState(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    synced: bool = Field(description="Kernel reports the clock synchronized (adjtimex).")
    unsynced_readings: int = Field(
        default=0, ge=0, description="Readings sampled while unsynced and not yet re-stamped."
    )


class DeviceStatus(_Message):
    """Periodic health report of an edge agent; also its MQTT last will (``online=False``)."""

    type: Literal["device_status"] = "device_status"
    device: DeviceId
    site: Name
    boot_id: BootId
    ts_ns: TimestampNs
    online: bool
    buffer_depth: int = Field(default=0, ge=0, description="Readings waiting to be published.")
    buffer_bytes: int = Field(default=0, ge=0)
    oldest_buffered_age_s: float | None = Field(default=None, ge=0)
    last_seq: int | None = Field(default=None, ge=0, description="Highest seq sampled so far.")
    dropped: dict[DropReason, int] = Field(
        default_factory=dict, description="Readings the buffer discarded, by reason, ever."
    )
    publish_rate: float = Field(default=0.0, ge=0, description="Readings/s published lately.")
    reconnects: int = Field(default=0, ge=0)
    clock: ClockState = ClockState(synced=True)
    agent_version: str = Field(default="", max_length=64)

    @field_validator("dropped")
    @classmethod
    def _non_negative(cls, dropped: dict[DropReason, int]) -> dict[DropReason, int]:
        if any(count < 0 for count in dropped.values()):
            raise ValueError("drop counts are never negative")
        return dropped


class Alert(_Message):
    """An alert episode opening or closing. One episode opens once and closes once."""

    type: Literal["alert"] = "alert"
    alert_id: str = Field(
        min_length=1,
        max_length=256,
        description="Stable id of the episode; the open and the close share it.",
    )
    rule: Name
    state: AlertState
    device: DeviceId
    site: Name
    sensor: Name | None = None
    severity: Literal["info", "warning", "critical"] = "warning"
    ts_ns: TimestampNs = Field(description="Event time at which the episode opened or closed.")
    value: float | None = None
    message: str = Field(default="", max_length=1024)


class SetSampleRate(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    action: Literal["set_sample_rate"] = "set_sample_rate"
    sensor: Name
    hz: float = Field(gt=0, le=1000)


class RequestStatus(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    action: Literal["request_status"] = "request_status"


class DriveOutput(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    action: Literal["drive_output"] = "drive_output"
    output: Name
    state: Literal["on", "off", "blink"]


class Command(_Message):
    """An instruction from the cloud to one device."""

    type: Literal["command"] = "command"
    command_id: str = Field(min_length=1, max_length=128)
    device: DeviceId
    site: Name
    ts_ns: TimestampNs
    body: Annotated[SetSampleRate | RequestStatus | DriveOutput, Field(discriminator="action")]


Message = Annotated[ReadingBatch | DeviceStatus | Alert | Command, Field(discriminator="type")]
"""Any top-level message; decode with :func:`fieldlink.messages.decode`."""
