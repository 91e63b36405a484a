"""Validation at the door and the way back, against the real Mosquitto and Kafka.

Bad payloads land in the dead-letter topic with the raw bytes, the MQTT topic and the reason,
and the counters rise; valid ones pass. Alerts and commands from Kafka reach the device.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from fieldlink.messages import (
    Alert,
    AlertState,
    Command,
    DeviceStatus,
    RequestStatus,
    encode,
)
from lab.services import KafkaServer
from tests.broker.harness import (
    SITE,
    HardenedBroker,
    bridge_process,
    connect,
    device_credential,
    make_batches,
    metric,
    mqtt_client,
)

pytestmark = pytest.mark.integration

BOOT = "0" * 31 + "2"


async def _read(bootstrap: str, topic: str, count: int) -> list:  # type: ignore[type-arg]
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=f"{topic}-r"
    )
    await consumer.start()
    records = []
    try:
        for _ in range(60):
            batches = await consumer.getmany(timeout_ms=1000)
            for batch in batches.values():
                records.extend(batch)
            if len(records) >= count:
                break
        # a little longer, to catch anything unexpected beyond count
        for batch in (await consumer.getmany(timeout_ms=1500)).values():
            records.extend(batch)
    finally:
        await consumer.stop()
    return records


def test_bad_payloads_are_dead_lettered_with_their_reason(
    broker: HardenedBroker, kafka: KafkaServer, tmp_path: Path, unique: str
):
    status_of_dev00 = encode(
        DeviceStatus(device="dev-00", site=SITE, boot_id=BOOT, ts_ns=1, online=True)
    )
    status_on_telemetry = status_of_dev00
    impostor = make_batches("dev-01", BOOT, 1, 3)[0]  # dev-00 claims to be dev-01
    valid = make_batches("dev-00", BOOT, 1, 3)[0]
    newer = orjson.dumps({**orjson.loads(valid), "v": 99})
    own = f"fieldlink/{SITE}/dev-00/telemetry"
    cases = [
        (own, b"{not json", "malformed"),
        (own, b"{" + b" " * 300_000 + b"}", "oversized"),
        (own, newer, "unsupported_version"),
        (own, b'{"v": 1, "type": "reading_batch"}', "invalid"),
        (own, status_on_telemetry, "wrong_type"),
        (own, impostor, "impersonation"),
        # the ACL pattern lets a device pick any site; the bridge checks the payload's
        ("fieldlink/elsewhere/dev-00/telemetry", valid, "impersonation"),
    ]
    with bridge_process(
        tmp_path / "bridge",
        broker,
        kafka.bootstrap_servers,
        prefix=unique,
        client_id=f"{unique}-a",
        share_group=unique,
    ) as bridge:
        device = mqtt_client(device_credential("dev-00"), f"{unique}-dev")
        connect(device, broker.host, broker.port)
        for topic, payload, _ in cases:
            device.publish(topic, payload, qos=1).wait_for_publish(10)
        device.publish(own, valid, qos=1).wait_for_publish(10)
        status = f"fieldlink/{SITE}/dev-00/status"
        device.publish(status, status_of_dev00, qos=1).wait_for_publish(10)
        device.disconnect()
        device.loop_stop()

        dead = asyncio.run(_read(kafka.bootstrap_servers, f"{unique}.deadletter", len(cases)))
        good = asyncio.run(_read(kafka.bootstrap_servers, f"{unique}.telemetry", 1))
        statuses = asyncio.run(_read(kafka.bootstrap_servers, f"{unique}.status", 1))
        counters = {
            reason: metric(bridge, "fieldlink_bridge_deadletters_total", reason=reason)
            for reason in {reason for _, _, reason in cases}
        }
    assert [record.value for record in good] == [valid]
    assert [(r.key, r.value) for r in statuses] == [(b"dev-00", status_of_dev00)]
    assert len(dead) == len(cases)
    got = sorted(
        (dict(r.headers)["mqtt_topic"].decode(), r.value, dict(r.headers)["reason"].decode())
        for r in dead
    )
    assert got == sorted(cases)
    assert all(dict(r.headers)["detail"] for r in dead)
    assert counters == {
        "malformed": 1,
        "oversized": 1,
        "unsupported_version": 1,
        "invalid": 1,
        "wrong_type": 1,
        "impersonation": 2,
    }


def test_alerts_and_commands_from_kafka_reach_the_device(
    broker: HardenedBroker, kafka: KafkaServer, tmp_path: Path, unique: str
):
    alert = Alert(
        alert_id="a1", rule="overheat", state=AlertState.OPEN, device="dev-03", site=SITE, ts_ns=5
    )
    command = Command(command_id="c1", device="dev-03", site=SITE, ts_ns=6, body=RequestStatus())
    other = Command(command_id="c2", device="dev-04", site=SITE, ts_ns=7, body=RequestStatus())
    received: list[tuple[str, bytes]] = []
    got_both = threading.Event()

    def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        received.append((msg.topic, msg.payload))
        if len(received) >= 2:
            got_both.set()

    subscribed = threading.Event()
    device = mqtt_client(device_credential("dev-03"), f"{unique}-dev")
    connect(device, broker.host, broker.port)
    device.on_message = on_message
    device.on_subscribe = lambda *args: subscribed.set()
    device.subscribe("fieldlink/#", qos=1)  # the ACL filters what it may read
    assert subscribed.wait(10)

    async def produce() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
        await producer.start()
        try:
            await producer.send_and_wait(f"{unique}.commands", encode(other))
            await producer.send_and_wait(f"{unique}.alerts", encode(alert))
            await producer.send_and_wait(f"{unique}.alerts", b"garbage")
            await producer.send_and_wait(f"{unique}.commands", encode(command))
        finally:
            await producer.stop()

    with bridge_process(
        tmp_path / "bridge",
        broker,
        kafka.bootstrap_servers,
        prefix=unique,
        client_id=f"{unique}-a",
        share_group=unique,
    ) as bridge:
        asyncio.run(produce())
        assert got_both.wait(30), f"device got {received}"
        dead = asyncio.run(_read(kafka.bootstrap_servers, f"{unique}.deadletter", 1))
        downlinks = metric(bridge, "fieldlink_bridge_downlinks_total", channel="commands")
    device.disconnect()
    device.loop_stop()
    assert sorted(received) == sorted(
        [
            (f"fieldlink/{SITE}/dev-03/alerts", encode(alert)),
            (f"fieldlink/{SITE}/dev-03/commands", encode(command)),
        ]
    )
    assert downlinks == 2  # dev-03's command and dev-04's (which dev-03 may not read)
    assert [(r.value, dict(r.headers)["reason"]) for r in dead] == [(b"garbage", b"malformed")]
