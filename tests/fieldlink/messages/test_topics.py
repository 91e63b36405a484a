from __future__ import annotations

import pytest
from hypothesis import given

from fieldlink.messages import (
    Channel,
    KafkaTopics,
    MqttTopic,
    TopicError,
    mqtt_topic,
    parse_mqtt_topic,
)

from .strategies import names

pytestmark = pytest.mark.unit


@given(names, names)
def test_mqtt_topics_round_trip(site: str, device: str) -> None:
    for channel in Channel:
        topic = mqtt_topic(site, device, channel)
        assert topic == f"fieldlink/{site}/{device}/{channel.value}"
        assert parse_mqtt_topic(topic) == MqttTopic(site, device, channel)


@pytest.mark.parametrize(
    "topic",
    [
        "fieldlink/lab/pi-1",
        "other/lab/pi-1/telemetry",
        "fieldlink/lab/pi-1/unknown",
        "fieldlink/lab/+/telemetry",
        "fieldlink/Lab/pi-1/telemetry",
        "fieldlink/lab/pi-1/telemetry/x",
    ],
)
def test_bad_topics_are_refused(topic: str) -> None:
    with pytest.raises(TopicError) as info:
        parse_mqtt_topic(topic)
    assert info.value.topic == topic


def test_mqtt_topic_refuses_wildcards_in_names() -> None:
    with pytest.raises(TopicError, match="device"):
        mqtt_topic("lab", "pi/#", Channel.TELEMETRY)


def test_subscriptions() -> None:
    assert MqttTopic.subscription(Channel.TELEMETRY) == "fieldlink/+/+/telemetry"
    assert (
        MqttTopic.subscription(Channel.STATUS, share_group="bridge")
        == "$share/bridge/fieldlink/+/+/status"
    )
    assert Channel.TELEMETRY.upstream
    assert not Channel.COMMANDS.upstream


def test_kafka_topic_names_take_a_prefix() -> None:
    topics = KafkaTopics(prefix="t1")
    assert topics.telemetry == "t1.telemetry"
    assert topics.telemetry_lanes() == ("t1.telemetry", "t1.telemetry.backlog")
    assert topics.all() == (
        "t1.telemetry",
        "t1.telemetry.backlog",
        "t1.status",
        "t1.alerts",
        "t1.commands",
        "t1.deadletter",
    )
