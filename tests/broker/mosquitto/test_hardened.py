"""The hardened Mosquitto configuration, enforced by the real broker.

Negative checks watch the broker, not the client: a forbidden publish is followed by an
allowed marker from the same client, and the watcher (bridge credential, which reads all
telemetry) must see the marker and nothing before it. Mosquitto handles one client's
packets in order, so anything it let through would have arrived first.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from broker.mosquitto import CertificateAuthority, Credential
from tests.broker.harness import (
    BRIDGE_USER,
    HardenedBroker,
    connect,
    device_credential,
    hardened_broker,
    mqtt_client,
    publish_sync,
)

pytestmark = pytest.mark.integration

A, B = "dev-a", "dev-b"
NOT_AUTHORIZED = 135


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HardenedBroker]:
    env = hardened_broker(tmp_path_factory.mktemp("hardened"), [A, B])
    with env.server:
        yield env


class Watcher:
    """A subscriber collecting (topic, payload) until it sees ``marker``."""

    def __init__(self, broker: HardenedBroker, credential: Credential, topic: str, cid: str):
        self.messages: list[tuple[str, bytes]] = []
        self.marker_seen = threading.Event()
        self.granted: list[int] = []
        subscribed = threading.Event()
        self.client = mqtt_client(credential, cid)
        connect(self.client, broker.host, broker.port)

        def on_subscribe(client: mqtt.Client, userdata: object, mid: int, codes, props) -> None:  # type: ignore[no-untyped-def]
            self.granted = [code.value for code in codes]
            subscribed.set()

        self.client.on_subscribe = on_subscribe
        self.client.on_message = self._on_message
        self.client.subscribe(topic, qos=1)
        assert subscribed.wait(10)

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        self.messages.append((msg.topic, msg.payload))
        if msg.payload == b"marker":
            self.marker_seen.set()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _connack(broker: HardenedBroker, credential: Credential | None, cid: str) -> int:
    result: list[int] = []
    done = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=cid, protocol=mqtt.MQTTv5)
    if credential is not None:
        client.username_pw_set(credential.username, credential.password)

    def on_connect(client: mqtt.Client, userdata: object, flags, reason, props) -> None:  # type: ignore[no-untyped-def]
        result.append(reason.value)
        done.set()

    client.on_connect = on_connect
    client.connect(broker.host, broker.port)
    client.loop_start()
    assert done.wait(10)
    client.loop_stop()
    client.disconnect()
    return result[0]


def test_anonymous_and_wrong_password_are_refused(broker: HardenedBroker, unique: str):
    # Mosquitto 2.0 answers every case alike, revealing nothing
    assert _connack(broker, None, f"{unique}-anon") == NOT_AUTHORIZED
    assert _connack(broker, Credential(A, "wrong"), f"{unique}-bad") == NOT_AUTHORIZED
    assert _connack(broker, Credential("nobody", "x"), f"{unique}-who") == NOT_AUTHORIZED
    assert _connack(broker, device_credential(A), f"{unique}-good") == 0


def test_device_cannot_publish_to_another_devices_topics(broker: HardenedBroker, unique: str):
    watcher = Watcher(broker, BRIDGE_USER, "fieldlink/#", f"{unique}-watch")
    device = mqtt_client(device_credential(A), f"{unique}-a")
    connect(device, broker.host, broker.port)
    try:
        for topic in (
            f"fieldlink/lab/{B}/telemetry",
            f"fieldlink/lab/{B}/status",
            f"fieldlink/lab/{A}/commands",  # downstream channels are the cloud's
            "fieldlink/lab/telemetry",
        ):
            assert publish_sync(device, topic, b"forged") == NOT_AUTHORIZED, topic
        assert publish_sync(device, f"fieldlink/lab/{A}/telemetry", b"marker") == 0
        assert watcher.marker_seen.wait(10)
    finally:
        device.disconnect()
        device.loop_stop()
        watcher.close()
    assert watcher.messages == [(f"fieldlink/lab/{A}/telemetry", b"marker")]


def test_device_cannot_read_another_devices_topics(broker: HardenedBroker, unique: str):
    # A asks for everything; the ACL lets only its own downstream topics through.
    reader = Watcher(broker, device_credential(A), "fieldlink/#", f"{unique}-a")
    denied = Watcher(broker, device_credential(A), f"fieldlink/lab/{B}/commands", f"{unique}-a2")
    cloud = mqtt_client(BRIDGE_USER, f"{unique}-cloud")
    connect(cloud, broker.host, broker.port)
    device_b = mqtt_client(device_credential(B), f"{unique}-b")
    connect(device_b, broker.host, broker.port)
    try:
        device_b.publish(f"fieldlink/lab/{B}/telemetry", b"b-data", qos=1).wait_for_publish(10)
        for channel in ("commands", "alerts"):
            cloud.publish(f"fieldlink/lab/{B}/{channel}", b"for-b", qos=1).wait_for_publish(10)
        cloud.publish(f"fieldlink/lab/{A}/alerts", b"for-a", qos=1).wait_for_publish(10)
        cloud.publish(f"fieldlink/lab/{A}/commands", b"marker", qos=1).wait_for_publish(10)
        assert reader.marker_seen.wait(10)
    finally:
        for client in (cloud, device_b):
            client.disconnect()
            client.loop_stop()
        reader.close()
        denied.close()
    assert reader.messages == [
        (f"fieldlink/lab/{A}/alerts", b"for-a"),
        (f"fieldlink/lab/{A}/commands", b"marker"),
    ]
    # Mosquitto 2.0.11 grants the subscription and enforces the ACL on each delivery.
    assert denied.messages == []


def test_bridge_credential_reads_all_telemetry_but_cannot_forge_it(
    broker: HardenedBroker, unique: str
):
    watcher = Watcher(
        broker, BRIDGE_USER, f"$share/{unique}/fieldlink/+/+/telemetry", f"{unique}-w"
    )
    cloud = mqtt_client(BRIDGE_USER, f"{unique}-cloud")
    connect(cloud, broker.host, broker.port)
    devices = {name: mqtt_client(device_credential(name), f"{unique}-{name}") for name in (A, B)}
    try:
        assert publish_sync(cloud, f"fieldlink/lab/{A}/telemetry", b"forged") == NOT_AUTHORIZED
        for name, client in devices.items():
            connect(client, broker.host, broker.port)
            client.publish(f"fieldlink/lab/{name}/telemetry", name.encode(), qos=1)
        devices[B].publish(f"fieldlink/lab/{B}/telemetry", b"marker", qos=1).wait_for_publish(10)
        assert watcher.marker_seen.wait(10)
    finally:
        for client in (cloud, *devices.values()):
            client.disconnect()
            client.loop_stop()
        watcher.close()
    assert sorted(watcher.messages) == sorted(
        [
            (f"fieldlink/lab/{A}/telemetry", A.encode()),
            (f"fieldlink/lab/{B}/telemetry", B.encode()),
            (f"fieldlink/lab/{B}/telemetry", b"marker"),
        ]
    )


def test_tls_listener_with_the_generated_ca(broker: HardenedBroker, unique: str):
    watcher = Watcher(broker, BRIDGE_USER, f"fieldlink/lab/{A}/telemetry", f"{unique}-w")
    device = mqtt_client(device_credential(A), f"{unique}-tls")
    device.tls_set(ca_certs=str(broker.tls.ca_cert), tls_version=ssl.PROTOCOL_TLS_CLIENT)
    try:
        connect(device, "localhost", broker.tls_port)
        device.publish(f"fieldlink/lab/{A}/telemetry", b"marker", qos=1).wait_for_publish(10)
        assert watcher.marker_seen.wait(10)
    finally:
        device.disconnect()
        device.loop_stop()
        watcher.close()


def test_tls_refuses_a_certificate_from_another_ca(
    broker: HardenedBroker, tmp_path: Path, unique: str
):
    stranger = tmp_path / "stranger-ca.crt"
    stranger.write_bytes(CertificateAuthority.create("someone else").cert_pem)
    device = mqtt_client(device_credential(A), f"{unique}-tls")
    device.tls_set(ca_certs=str(stranger), tls_version=ssl.PROTOCOL_TLS_CLIENT)
    with pytest.raises(ssl.SSLCertVerificationError):
        device.connect("localhost", broker.tls_port)


def test_client_certificate_listener_authenticates_by_certificate_and_keeps_the_acl(
    broker: HardenedBroker, tmp_path: Path, unique: str
):
    ca = CertificateAuthority.load(broker.tls.ca_cert, broker.tls.ca_key)
    ca.issue_client(A).write(tmp_path / "a.crt", tmp_path / "a.key")
    watcher = Watcher(broker, BRIDGE_USER, "fieldlink/+/+/telemetry", f"{unique}-w")
    device = mqtt_client(None, f"{unique}-cert")  # no password: the certificate is the identity
    device.tls_set(
        ca_certs=str(broker.tls.ca_cert),
        certfile=str(tmp_path / "a.crt"),
        keyfile=str(tmp_path / "a.key"),
        tls_version=ssl.PROTOCOL_TLS_CLIENT,
    )
    try:
        connect(device, "localhost", broker.cert_port)
        assert publish_sync(device, f"fieldlink/lab/{B}/telemetry", b"forged") == NOT_AUTHORIZED
        assert publish_sync(device, f"fieldlink/lab/{A}/telemetry", b"marker") == 0
        assert watcher.marker_seen.wait(10)
    finally:
        device.disconnect()
        device.loop_stop()
        watcher.close()
    assert watcher.messages == [(f"fieldlink/lab/{A}/telemetry", b"marker")]


def test_client_certificate_listener_refuses_a_client_without_one(broker: HardenedBroker):
    context = ssl.create_default_context(cafile=str(broker.tls.ca_cert))
    with (
        socket.create_connection(("localhost", broker.cert_port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        # TLS 1.3 completes the client's side of the handshake and reports the missing
        # certificate with the first read: an alert, or the connection simply closed.
        try:
            answer = tls.recv(1)
        except ssl.SSLError as exc:
            answer = exc.reason.encode() if exc.reason else b"ssl error"
    assert answer in (b"", b"TLSV13_ALERT_CERTIFICATE_REQUIRED", b"SSLV3_ALERT_HANDSHAKE_FAILURE")
