"""Message contracts, topic names and the codec: the one place a wire format is defined."""

from fieldlink.errors import DecodeError, DecodeReason, TopicError

from ._codec import DEFAULT_MAX_PAYLOAD_BYTES, Codec, JsonCodec, decode, encode, get_codec
from ._models import (
    SCHEMA_VERSION,
    Alert,
    AlertState,
    ClockState,
    Command,
    DeviceId,
    DeviceStatus,
    DriveOutput,
    DropReason,
    Message,
    Name,
    Quality,
    Reading,
    ReadingBatch,
    ReadingKind,
    RequestStatus,
    SetSampleRate,
)
from ._topics import Channel, KafkaTopics, MqttTopic, mqtt_topic, parse_mqtt_topic

__all__ = [
    "DEFAULT_MAX_PAYLOAD_BYTES",
    "SCHEMA_VERSION",
    "Alert",
    "AlertState",
    "Channel",
    "ClockState",
    "Codec",
    "Command",
    "DecodeError",
    "DecodeReason",
    "DeviceId",
    "DeviceStatus",
    "DriveOutput",
    "DropReason",
    "JsonCodec",
    "KafkaTopics",
    "Message",
    "MqttTopic",
    "Name",
    "Quality",
    "Reading",
    "ReadingBatch",
    "ReadingKind",
    "RequestStatus",
    "SetSampleRate",
    "TopicError",
    "decode",
    "encode",
    "get_codec",
    "mqtt_topic",
    "parse_mqtt_topic",
]
