"""The bridge's pure routing: every kind of bad input becomes a dead letter with a reason."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.bridge.routing import Router
from fieldlink.errors import DecodeError, DecodeReason
from fieldlink.messages import (
    Alert,
    AlertState,
    Channel,
    Command,
    DeviceStatus,
    KafkaTopics,
    RequestStatus,
    encode,
)
from tests.broker.harness import make_batches

pytestmark = pytest.mark.unit

BOOT = "ab" * 16
TOPICS = KafkaTopics("t")
router = Router(TOPICS, max_payload_bytes=10_000)
BATCH = make_batches("pi-1", BOOT, 1, 5)[0]  # site "lab"


def test_valid_telemetry_goes_to_the_telemetry_topic_keyed_by_device():
    route = router.upstream("fieldlink/lab/pi-1/telemetry", BATCH)
    assert (route.kafka_topic, route.key, route.value) == ("t.telemetry", b"pi-1", BATCH)
    assert (route.reason, route.channel, route.readings) == (None, Channel.TELEMETRY, 5)


def test_drained_backlog_goes_to_the_backlog_lane_when_it_is_on():
    batch = orjson.loads(BATCH)
    batch["backlog"] = True
    payload = orjson.dumps(batch)
    laned = Router(TOPICS, max_payload_bytes=10_000, backlog_lane=True)
    route = laned.upstream("fieldlink/lab/pi-1/telemetry", payload)
    assert (route.kafka_topic, route.key, route.value) == ("t.telemetry.backlog", b"pi-1", payload)
    assert (route.reason, route.readings) == (None, 5)
    assert router.upstream("fieldlink/lab/pi-1/telemetry", payload).kafka_topic == "t.telemetry"


def test_valid_status_goes_to_the_status_topic():
    status = encode(DeviceStatus(device="pi-1", site="lab", boot_id=BOOT, ts_ns=1, online=False))
    route = router.upstream("fieldlink/lab/pi-1/status", status)
    assert (route.kafka_topic, route.key, route.reason) == ("t.status", b"pi-1", None)


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("fieldlink/lab/pi-1/telemetry", b"\xff\xfe", DecodeReason.MALFORMED),
        ("fieldlink/lab/pi-1/telemetry", b"[1, 2]", DecodeReason.MALFORMED),
        ("fieldlink/lab/pi-1/telemetry", b"{" + b" " * 20_000 + b"}", DecodeReason.OVERSIZED),
        ("fieldlink/lab/pi-1/telemetry", b'{"v": 2}', DecodeReason.UNSUPPORTED_VERSION),
        ("fieldlink/lab/pi-1/telemetry", b'{"v": 1, "type": "nope"}', DecodeReason.INVALID),
        ("fieldlink/lab/pi-2/telemetry", BATCH, DecodeReason.IMPERSONATION),
        ("fieldlink/farm/pi-1/telemetry", BATCH, DecodeReason.IMPERSONATION),
        ("fieldlink/lab/pi-1/status", BATCH, DecodeReason.WRONG_TYPE),
        ("fieldlink/lab/pi-1/commands", BATCH, DecodeReason.WRONG_TYPE),
        ("fieldlink/LAB/pi-1/telemetry", BATCH, DecodeReason.INVALID),
        ("elsewhere/x", BATCH, DecodeReason.INVALID),
    ],
)
def test_bad_input_is_dead_lettered_with_reason_topic_and_raw_bytes(
    topic: str, payload: bytes, reason: DecodeReason
):
    route = router.upstream(topic, payload)
    headers = dict(route.headers)
    assert route.kafka_topic == "t.deadletter"
    assert route.reason is reason
    assert route.value == payload
    assert headers["reason"] == reason.value.encode()
    assert headers["mqtt_topic"] == topic.encode()
    assert headers["detail"]


@given(topic=st.text(max_size=80), payload=st.binary(max_size=300))
def test_upstream_never_raises(topic: str, payload: bytes):
    route = router.upstream(topic, payload)
    assert route.kafka_topic in TOPICS.all()


def test_downstream_routes_alerts_and_commands_to_the_devices_own_topic():
    alert = encode(
        Alert(alert_id="a", rule="hot", state=AlertState.OPEN, device="pi-1", site="lab", ts_ns=1)
    )
    command = encode(
        Command(command_id="c", device="pi-2", site="farm", ts_ns=1, body=RequestStatus())
    )
    assert router.downstream("t.alerts", alert).mqtt_topic == "fieldlink/lab/pi-1/alerts"
    assert router.downstream("t.commands", command).mqtt_topic == "fieldlink/farm/pi-2/commands"


def test_downstream_refuses_the_wrong_message_type_with_a_reason():
    command = orjson.loads(
        encode(Command(command_id="c", device="pi-2", site="farm", ts_ns=1, body=RequestStatus()))
    )
    with pytest.raises(DecodeError) as caught:
        router.downstream("t.alerts", orjson.dumps(command))
    assert caught.value.reason is DecodeReason.WRONG_TYPE
    dead = router.downstream_dead_letter("t.alerts", b"x", caught.value)
    assert dead.kafka_topic == "t.deadletter"
    assert dict(dead.headers)["mqtt_topic"] == b"kafka:t.alerts"
