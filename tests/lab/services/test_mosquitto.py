"""The real Mosquitto started by the lab: QoS1 delivery, persistence across restarts."""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from lab.services import MosquittoServer

pytestmark = pytest.mark.integration


class _Collector:
    def __init__(self, expected: int):
        self.payloads: list[bytes] = []
        self.expected = expected
        self.done = threading.Event()
        self.subscribed = threading.Event()

    def on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        self.payloads.append(msg.payload)
        if len(self.payloads) >= self.expected:
            self.done.set()


def _client(server: MosquittoServer, client_id: str, *, persistent: bool = False) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    props = None
    if persistent:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
    client.connect(server.host, server.port, clean_start=not persistent, properties=props)
    return client


def test_qos1_publish_subscribe_delivers_every_message(mosquitto: MosquittoServer, unique: str):
    topic = f"fieldlink/lab/{unique}/telemetry"
    collector = _Collector(expected=500)
    sub = _client(mosquitto, f"{unique}-sub")
    sub.on_message = collector.on_message
    sub.on_subscribe = lambda *args: collector.subscribed.set()
    sub.loop_start()
    sub.subscribe(topic, qos=1)
    assert collector.subscribed.wait(10)

    pub = _client(mosquitto, f"{unique}-pub")
    pub.loop_start()
    infos = [pub.publish(topic, f"{i}".encode(), qos=1) for i in range(500)]
    for info in infos:
        info.wait_for_publish(timeout=10)
    assert all(info.is_published() for info in infos)

    assert collector.done.wait(10)
    for client in (pub, sub):
        client.loop_stop()
        client.disconnect()
    assert sorted(int(p) for p in collector.payloads) == list(range(500))


def test_persistent_session_keeps_qos1_messages_across_broker_restart(
    tmp_path_factory: pytest.TempPathFactory, unique: str
):
    # A private broker: restarting the shared one would disturb other tests.
    server = MosquittoServer(tmp_path_factory.mktemp("mosquitto-restart"))
    with server:
        topic = f"fieldlink/lab/{unique}/telemetry"
        subscribed = threading.Event()
        sub = _client(server, f"{unique}-sub", persistent=True)
        sub.on_subscribe = lambda *args: subscribed.set()
        sub.loop_start()
        sub.subscribe(topic, qos=1)
        assert subscribed.wait(10)
        sub.loop_stop()
        sub.disconnect()

        pub = _client(server, f"{unique}-pub")
        pub.loop_start()
        infos = [pub.publish(topic, f"{i}".encode(), qos=1) for i in range(200)]
        for info in infos:
            info.wait_for_publish(timeout=10)
        pub.loop_stop()
        pub.disconnect()

        server.restart()

        collector = _Collector(expected=200)
        sub = _client(server, f"{unique}-sub", persistent=True)
        sub.on_message = collector.on_message
        sub.loop_start()
        assert collector.done.wait(15), f"got {len(collector.payloads)} of 200"
        sub.loop_stop()
        sub.disconnect()
    assert sorted(int(p) for p in collector.payloads) == list(range(200))
    assert not server.running
