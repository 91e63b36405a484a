"""Credentials from a built image authenticate against the real Mosquitto, configured with
the registry's password file and ACL; wrong and revoked credentials are refused."""

from __future__ import annotations

import os
import signal
import threading
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from firmware.image import BuildRequest, build_image
from firmware.image.fat import FatPartition
from firmware.image.partitions import read_partitions
from firmware.registry import Registry
from lab.services import MosquittoServer

pytestmark = pytest.mark.integration


@pytest.fixture
def secured_broker(registry: Registry, tmp_path: Path) -> Iterator[MosquittoServer]:
    registry.add("seed", site="lab")  # the broker needs both files to exist at start
    config = (
        "allow_anonymous false\n"
        f"password_file {registry.password_file}\n"
        f"acl_file {registry.acl_file}\n"
    )
    with MosquittoServer(tmp_path / "mosquitto", config=config) as server:
        yield server


class _Session:
    """One MQTT v5 connection; records the CONNACK and SUBACK reason codes."""

    def __init__(self, server: MosquittoServer, username: str, password: str):
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.connack: ReasonCode | None = None
        self.suback: list[ReasonCode] = []
        self.published = threading.Event()
        self.puback: ReasonCode | None = None
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=username, protocol=mqtt.MQTTv5
        )
        self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_publish = self._on_publish
        self.client.connect(server.host, server.port)
        self.client.loop_start()
        assert self.connected.wait(10), "no CONNACK"

    def _on_connect(
        self, client: mqtt.Client, userdata: object, flags: object, rc: ReasonCode, props: object
    ) -> None:
        self.connack = rc
        self.connected.set()

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        codes: list[ReasonCode],
        props: object,
    ) -> None:
        self.suback = codes
        self.subscribed.set()

    def _on_publish(
        self, client: mqtt.Client, userdata: object, mid: int, rc: ReasonCode, props: object
    ) -> None:
        self.puback = rc
        self.published.set()

    def publish(self, topic: str) -> ReasonCode:
        """QoS 1 publish; Mosquitto answers an ACL denial with PUBACK 'Not authorized'."""
        self.published.clear()
        self.client.publish(topic, b"{}", qos=1)
        assert self.published.wait(10), "no PUBACK"
        assert self.puback is not None
        return self.puback

    def subscribe(self, topic: str) -> ReasonCode:
        self.subscribed.clear()
        self.client.subscribe(topic, qos=1)
        assert self.subscribed.wait(10), "no SUBACK"
        return self.suback[0]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _image_password(image: Path) -> tuple[str, str]:
    boot = FatPartition(image, offset=read_partitions(image)[0].offset)
    mqtt_section = tomllib.loads(boot.read("fieldlink/edge.toml").decode())["mqtt"]
    return mqtt_section["username"], mqtt_section["password"]


def test_image_credentials_connect_wrong_and_revoked_are_refused(
    secured_broker: MosquittoServer,
    registry: Registry,
    trixie_image: Path,
    wheel: Path,
    tmp_path: Path,
):
    registry.add("pi-07", site="farm")
    out = tmp_path / "pi-07.img"
    build_image(
        BuildRequest(
            base=trixie_image, device="pi-07", output=out, mqtt_host="127.0.0.1", wheel=wheel
        ),
        registry=registry,
    )
    secured_broker.restart()  # picks up the password file the build rewrote
    username, password = _image_password(out)
    assert username == "pi-07"

    device = _Session(secured_broker, username, password)
    try:
        assert device.connack is not None
        assert not device.connack.is_failure
        assert not device.subscribe("fieldlink/farm/pi-07/commands").is_failure
        assert not device.publish("fieldlink/farm/pi-07/telemetry").is_failure
        assert not device.publish("fieldlink/farm/pi-07/status").is_failure
        # The ACL pins the device to its own id and site, and upstream channels only.
        assert device.publish("fieldlink/farm/pi-08/telemetry").getName() == "Not authorized"
        assert device.publish("fieldlink/yard/pi-07/telemetry").getName() == "Not authorized"
        assert device.publish("fieldlink/farm/pi-07/commands").getName() == "Not authorized"
    finally:
        device.close()

    wrong = _Session(secured_broker, username, password + "x")
    wrong.close()
    assert wrong.connack is not None
    assert wrong.connack.is_failure

    registry.revoke("pi-07")
    secured_broker.restart()
    revoked = _Session(secured_broker, username, password)
    revoked.close()
    assert revoked.connack is not None
    assert revoked.connack.is_failure


def test_rotation_takes_effect_on_a_broker_reload(
    secured_broker: MosquittoServer, registry: Registry
):
    """SIGHUP makes Mosquitto re-read the password file: the old password stops working
    and the new one works, without a restart."""
    old = registry.add("pi-11", site="farm")
    secured_broker.restart()
    assert not _connack(secured_broker, "pi-11", old.password).is_failure
    new = registry.rotate("pi-11")
    pid = secured_broker.process.pid
    assert pid is not None
    os.kill(pid, signal.SIGHUP)
    # The reload is asynchronous: poll (bounded) until the old password is refused.
    deadline = time.monotonic() + 20
    while not _connack(secured_broker, "pi-11", old.password).is_failure:
        assert time.monotonic() < deadline, "the reload never refused the old password"
        time.sleep(0.2)
    assert not _connack(secured_broker, "pi-11", new.password).is_failure


def _connack(server: MosquittoServer, username: str, password: str) -> ReasonCode:
    session = _Session(server, username, password)
    session.close()
    assert session.connack is not None
    return session.connack
