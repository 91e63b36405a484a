"""The files `provision` writes, served by the real Mosquitto: the mosquitto.conf the compose
service would run (paths, ports and user rewritten for this machine), the simulated devices'
credentials from their edge configs, and the bridge credential."""

from __future__ import annotations

import ssl
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from lab.services._process import free_port

from ._provision import run_provision, serve_provisioned

pytestmark = pytest.mark.integration

BRIDGE_PASSWORD = "bridge-secret"


class Broker:
    def __init__(self, root: Path):
        self.root = root
        self.port = free_port()
        self.tls_port = free_port()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    assert run_provision(tmp_path, devices=2, bridge_password=BRIDGE_PASSWORD) == 0
    served = Broker(tmp_path)
    with serve_provisioned(tmp_path, served.port, served.tls_port):
        yield served


class Session:
    def __init__(
        self,
        port: int,
        username: str,
        password: str,
        *,
        ca: Path | None = None,
        client_id: str | None = None,
    ):
        self.connected = threading.Event()
        self.acked = threading.Event()
        self.received: list[str] = []
        self.got_message = threading.Event()
        self.connack: ReasonCode | None = None
        self.puback: ReasonCode | None = None
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id or username, protocol=mqtt.MQTTv5
        )
        self.client.username_pw_set(username, password)
        if ca is not None:
            self.client.tls_set(ca_certs=str(ca), tls_version=ssl.PROTOCOL_TLS_CLIENT)
        self.client.on_connect = self._on_connect
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message
        self.client.connect("localhost" if ca else "127.0.0.1", port)
        self.client.loop_start()
        assert self.connected.wait(10), "no CONNACK"

    def _on_connect(self, client: object, userdata: object, flags: object, rc: ReasonCode,
                    props: object) -> None:  # fmt: skip
        self.connack = rc
        self.connected.set()

    def _on_publish(self, client: object, userdata: object, mid: int, rc: ReasonCode,
                    props: object) -> None:  # fmt: skip
        self.puback = rc
        self.acked.set()

    def _on_message(self, client: object, userdata: object, message: mqtt.MQTTMessage) -> None:
        self.received.append(message.topic)
        self.got_message.set()

    def publish(self, topic: str) -> ReasonCode | None:
        self.acked.clear()
        self.client.publish(topic, b"{}", qos=1)
        self.acked.wait(10)
        return self.puback

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def device_password(root: Path, device: str) -> str:
    text = (root / "fleet" / "devices" / device / "edge.toml").read_text()
    password: str = tomllib.loads(text)["mqtt"]["password"]
    return password


def test_devices_publish_their_own_topics_and_the_bridge_reads_them(broker: Broker) -> None:
    bridge = Session(broker.port, "fieldlink-bridge", BRIDGE_PASSWORD)
    device = Session(broker.port, "sim-001", device_password(broker.root, "sim-001"))
    try:
        assert bridge.connack is not None
        assert not bridge.connack.is_failure
        subscribed = threading.Event()
        bridge.client.on_subscribe = lambda *args: subscribed.set()
        bridge.client.subscribe("fieldlink/+/+/telemetry", qos=1)
        assert subscribed.wait(10)
        reason = device.publish("fieldlink/lab/sim-001/telemetry")
        assert reason is not None
        assert not reason.is_failure
        assert bridge.got_message.wait(10)
        assert bridge.received == ["fieldlink/lab/sim-001/telemetry"]
        # Another device's topic: refused (Mosquitto 2.0 answers 135 and drops the client).
        refused = device.publish("fieldlink/lab/sim-002/telemetry")
        assert refused is not None
        assert refused.value == 135
    finally:
        device.close()
        bridge.close()


def test_a_wrong_password_is_refused(broker: Broker) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="sim-002", protocol=mqtt.MQTTv5)
    client.username_pw_set("sim-002", "not-its-password")
    result: list[ReasonCode] = []
    done = threading.Event()

    def on_connect(*args: object) -> None:
        rc = args[3]
        assert isinstance(rc, ReasonCode)
        result.append(rc)
        done.set()

    client.on_connect = on_connect
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        assert done.wait(10)
        assert result[0].is_failure
    finally:
        client.disconnect()
        client.loop_stop()


def test_devices_connect_over_tls_with_the_provisioned_ca(broker: Broker) -> None:
    ca = broker.root / "broker" / "tls" / "ca.crt"
    device = Session(broker.tls_port, "sim-002", device_password(broker.root, "sim-002"), ca=ca)
    try:
        assert device.connack is not None
        assert not device.connack.is_failure
        reason = device.publish("fieldlink/lab/sim-002/status")
        assert reason is not None
        assert not reason.is_failure
    finally:
        device.close()
