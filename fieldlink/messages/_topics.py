"""Topic names: the MQTT tree devices use and the Kafka topics the cloud uses.

MQTT: ``fieldlink/{site}/{device}/{channel}`` with channel one of ``telemetry``, ``status``
(device -> cloud), ``commands`` and ``alerts`` (cloud -> device).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from fieldlink.errors import TopicError

__all__ = ["Channel", "KafkaTopics", "MqttTopic", "mqtt_topic", "parse_mqtt_topic"]

MQTT_ROOT = "fieldlink"
_LEVEL = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class Channel(StrEnum):
    TELEMETRY = "telemetry"
    STATUS = "status"
    COMMANDS = "commands"
    ALERTS = "alerts"

    @property
    def upstream(self) -> bool:
        """True for channels a device publishes to, False for those it subscribes to."""
        return self in (Channel.TELEMETRY, Channel.STATUS)


@dataclass(frozen=True, slots=True)
class MqttTopic:
    site: str
    device: str
    channel: Channel

    def __str__(self) -> str:
        return f"{MQTT_ROOT}/{self.site}/{self.device}/{self.channel.value}"

    @staticmethod
    def subscription(channel: Channel, *, share_group: str | None = None) -> str:
        """Wildcard filter for one channel of every device, optionally as a shared
        subscription (``$share/GROUP/...``) so several subscribers split the load."""
        pattern = f"{MQTT_ROOT}/+/+/{channel.value}"
        return f"$share/{share_group}/{pattern}" if share_group else pattern


def mqtt_topic(site: str, device: str, channel: Channel | str) -> str:
    """The MQTT topic of one device's channel, validating each level."""
    for label, level in (("site", site), ("device", device)):
        if not _LEVEL.match(level):
            raise TopicError(level, f"invalid {label} name")
    return str(MqttTopic(site, device, Channel(channel)))


def parse_mqtt_topic(topic: str) -> MqttTopic:
    """Split a concrete MQTT topic into site, device and channel."""
    parts = topic.split("/")
    if len(parts) != 4 or parts[0] != MQTT_ROOT:
        raise TopicError(topic, f"expected {MQTT_ROOT}/SITE/DEVICE/CHANNEL")
    _, site, device, channel = parts
    if not _LEVEL.match(site) or not _LEVEL.match(device):
        raise TopicError(topic, "site and device must be lower-case names")
    try:
        return MqttTopic(site, device, Channel(channel))
    except ValueError:
        raise TopicError(topic, f"unknown channel {channel!r}") from None


@dataclass(frozen=True, slots=True)
class KafkaTopics:
    """Kafka topic names. ``prefix`` lets tests and several deployments share one cluster."""

    prefix: str = "fieldlink"

    @property
    def telemetry(self) -> str:
        """Live telemetry: batches of readings sampled since the device's connection came up."""
        return f"{self.prefix}.telemetry"

    @property
    def telemetry_backlog(self) -> str:
        """Backlog telemetry: batches drained from an edge buffer after a partition or a
        restart (``ReadingBatch.backlog``). A lane of its own, so live readings never queue
        behind a fleet's drained backlog; same partitions and keys as ``telemetry``."""
        return f"{self.prefix}.telemetry.backlog"

    def telemetry_lanes(self) -> tuple[str, str]:
        """The telemetry topics, in lane order: lane 0 live, lane 1 backlog."""
        return (self.telemetry, self.telemetry_backlog)

    @property
    def status(self) -> str:
        return f"{self.prefix}.status"

    @property
    def alerts(self) -> str:
        return f"{self.prefix}.alerts"

    @property
    def commands(self) -> str:
        return f"{self.prefix}.commands"

    @property
    def deadletter(self) -> str:
        return f"{self.prefix}.deadletter"

    def all(self) -> tuple[str, ...]:
        return (
            self.telemetry,
            self.telemetry_backlog,
            self.status,
            self.alerts,
            self.commands,
            self.deadletter,
        )
