"""The bridge's pure core: where one message goes, decided without any I/O.

Upstream, an MQTT message becomes a Kafka record keyed by device id on the status topic or
on one of the two telemetry lanes (live, or, with ``backlog_lane``, backlog for batches an
edge drained from its buffer), or a dead letter carrying the raw bytes and the reason.
Downstream, an alert or command record becomes a QoS1 publish to the device's own topic.

>>> from fieldlink.messages import KafkaTopics
>>> router = Router(KafkaTopics("demo"))
>>> route = router.upstream("fieldlink/farm/pi-1/telemetry", b"not json")
>>> route.kafka_topic, route.reason
('demo.deadletter', <DecodeReason.MALFORMED: 'malformed'>)
"""

from __future__ import annotations

from dataclasses import dataclass

from fieldlink.errors import DecodeError, DecodeReason, TopicError
from fieldlink.messages import (
    DEFAULT_MAX_PAYLOAD_BYTES,
    Alert,
    Channel,
    Command,
    DeviceStatus,
    KafkaTopics,
    ReadingBatch,
    decode,
    mqtt_topic,
    parse_mqtt_topic,
)

__all__ = ["Downlink", "Route", "Router"]

Headers = tuple[tuple[str, bytes], ...]

_MAX_DETAIL = 512


@dataclass(frozen=True, slots=True)
class Route:
    """One Kafka record to produce. ``reason`` is None for an accepted message."""

    kafka_topic: str
    key: bytes
    value: bytes
    headers: Headers = ()
    reason: DecodeReason | None = None
    channel: Channel | None = None
    readings: int = 0


@dataclass(frozen=True, slots=True)
class Downlink:
    """One MQTT publish towards a device."""

    mqtt_topic: str
    payload: bytes
    channel: Channel


class Router:
    """Validates and routes messages between MQTT and Kafka."""

    def __init__(
        self,
        topics: KafkaTopics,
        *,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        backlog_lane: bool = False,
    ):
        self.topics = topics
        self.max_payload_bytes = max_payload_bytes
        self.backlog_lane = backlog_lane

    def upstream(self, topic: str, payload: bytes) -> Route:
        """Route a message a device published; never raises on bad input."""
        try:
            parsed = parse_mqtt_topic(topic)
        except TopicError as exc:
            return self._dead(topic, topic.encode(), payload, DecodeReason.INVALID, str(exc))
        key = parsed.device.encode()
        if not parsed.channel.upstream:
            return self._dead(
                topic, key, payload, DecodeReason.WRONG_TYPE, "devices do not publish here"
            )
        expect: type[ReadingBatch] | type[DeviceStatus] = (
            ReadingBatch if parsed.channel is Channel.TELEMETRY else DeviceStatus
        )
        try:
            message: ReadingBatch | DeviceStatus = decode(
                payload, expect, max_bytes=self.max_payload_bytes
            )
        except DecodeError as exc:
            return self._dead(topic, key, payload, exc.reason, exc.detail)
        if message.device != parsed.device or message.site != parsed.site:
            detail = (
                f"payload claims {message.site}/{message.device} "
                f"but arrived on {parsed.site}/{parsed.device}"
            )
            return self._dead(topic, key, payload, DecodeReason.IMPERSONATION, detail)
        if isinstance(message, ReadingBatch):
            backlog = message.backlog and self.backlog_lane
            lane = self.topics.telemetry_backlog if backlog else self.topics.telemetry
            return Route(lane, key, payload, channel=parsed.channel, readings=len(message.readings))
        return Route(self.topics.status, key, payload, channel=parsed.channel)

    def _dead(
        self, topic: str, key: bytes, payload: bytes, reason: DecodeReason, detail: str
    ) -> Route:
        headers: Headers = (
            ("reason", reason.value.encode()),
            ("detail", detail[:_MAX_DETAIL].encode(errors="replace")),
            ("mqtt_topic", topic.encode(errors="replace")),
        )
        return Route(self.topics.deadletter, key, payload, headers, reason=reason)

    def downstream(self, kafka_topic: str, value: bytes) -> Downlink:
        """The MQTT publish for an alert or command record; raises :class:`DecodeError`."""
        expect: type[Alert] | type[Command]
        if kafka_topic == self.topics.alerts:
            expect, channel = Alert, Channel.ALERTS
        elif kafka_topic == self.topics.commands:
            expect, channel = Command, Channel.COMMANDS
        else:
            raise DecodeError(
                DecodeReason.WRONG_TYPE, f"no downlink for topic {kafka_topic}", size=len(value)
            )
        message = decode(value, expect, max_bytes=self.max_payload_bytes)
        return Downlink(mqtt_topic(message.site, message.device, channel), value, channel)

    def downstream_dead_letter(self, kafka_topic: str, value: bytes, error: DecodeError) -> Route:
        return self._dead(
            f"kafka:{kafka_topic}", kafka_topic.encode(), value, error.reason, error.detail
        )
