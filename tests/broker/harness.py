"""Test harness of the broker tier: a hardened private Mosquitto, device publishers, a
bridge subprocess, and a Kafka reader that counts every (device, seq).

Everything here drives the real servers; nothing is mocked.
"""

from __future__ import annotations

import collections
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import paho.mqtt.client as mqtt
from aiokafka import AIOKafkaConsumer, TopicPartition
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from broker.mosquitto import (
    BrokerConfig,
    Credential,
    TlsListener,
    write_acl_file,
    write_password_file,
    write_tls_files,
)
from broker.mosquitto.tls import TlsFiles
from fieldlink.messages import Reading, ReadingBatch, encode, mqtt_topic
from lab.services import ManagedProcess, MosquittoServer, free_port, port_open

BRIDGE_USER = Credential("fieldlink-bridge", "bridge-secret")
SITE = "lab"


def device_credential(device: str) -> Credential:
    return Credential(device, f"pw-{device}")


@dataclass
class HardenedBroker:
    server: MosquittoServer
    tls: TlsFiles
    tls_port: int
    cert_port: int

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port


def hardened_broker(run_dir: Path, devices: Iterable[str]) -> HardenedBroker:
    """A private Mosquitto with our production options (passwords, ACL, TLS listener)."""
    conf = run_dir / "conf"
    passwd = write_password_file(
        conf / "passwd", [BRIDGE_USER, *(device_credential(d) for d in devices)]
    )
    acl = write_acl_file(conf / "acl", bridge_users=[BRIDGE_USER.username])
    tls = write_tls_files(conf / "tls")
    tls_port, cert_port = free_port(), free_port()
    tls_listener = TlsListener(
        port=tls_port,
        host="127.0.0.1",
        cafile=tls.ca_cert,
        certfile=tls.server_cert,
        keyfile=tls.server_key,
    )
    config = BrokerConfig(
        password_file=passwd,
        acl_file=acl,
        tls=tls_listener,
        cert_listener=replace(
            tls_listener, port=cert_port, require_certificate=True, use_identity_as_username=True
        ),
    )
    server = MosquittoServer(run_dir / "mosquitto", config=config.render_options())
    return HardenedBroker(server, tls, tls_port, cert_port)


def mqtt_client(credential: Credential | None, client_id: str) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    if credential is not None:
        client.username_pw_set(credential.username, credential.password)
    client.max_inflight_messages_set(100)
    client.reconnect_delay_set(0.2, 1)
    return client


def connect(client: mqtt.Client, host: str, port: int, *, persistent: bool = False) -> None:
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600 if persistent else 0
    connected = threading.Event()
    client.on_connect = lambda *args: connected.set()
    client.connect(host, port, clean_start=not persistent, properties=props)
    client.loop_start()
    if not connected.wait(10):
        raise TimeoutError(f"no CONNACK from {host}:{port}")


def publish_sync(client: mqtt.Client, topic: str, payload: bytes, timeout: float = 10) -> int:
    """Publish QoS1 and return the PUBACK reason code (0 = accepted, 135 = not authorized).

    Works across reconnects (paho resends), unlike ``wait_for_publish``. Mosquitto 2.0.11
    drops a v5 client's connection after refusing its publish; paho reconnects by itself.
    """
    results: dict[int, int] = client._userdata if isinstance(client._userdata, dict) else {}
    if client._userdata is not results:
        client.user_data_set(results)

        def on_publish(client: mqtt.Client, userdata: dict[int, int], mid: int, reason, props):  # type: ignore[no-untyped-def]
            userdata[mid] = reason.value

        client.on_publish = on_publish
    info = client.publish(topic, payload, qos=1)
    deadline = time.monotonic() + timeout
    while info.mid not in results:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no PUBACK for {topic}")
        time.sleep(0.01)
    return results.pop(info.mid)


def make_batches(device: str, boot_id: str, count: int, size: int) -> list[bytes]:
    """``count`` ReadingBatch payloads of ``size`` readings each, seqs 0.."""
    payloads = []
    ts = 1_700_000_000_000_000_000
    for b in range(count):
        readings = tuple(
            Reading(
                device=device,
                sensor="temp",
                value=20.0 + (seq % 10) / 10,
                unit="degC",
                ts_ns=ts + seq * 1_000_000,
                seq=seq,
            )
            for seq in range(b * size, (b + 1) * size)
        )
        batch = ReadingBatch(
            device=device,
            site=SITE,
            boot_id=boot_id,
            seq_first=readings[0].seq,
            seq_last=readings[-1].seq,
            readings=readings,
        )
        payloads.append(encode(batch))
    return payloads


class Fleet:
    """Devices publishing telemetry QoS1 with their own credentials, in background threads.

    ``rate`` (messages/s for the whole fleet) paces the stream so faults can strike
    mid-stream. ``acked()`` is what Mosquitto PUBACKed (seen through ``on_publish``, which
    paho also fires for messages it resent after a reconnect): the bridge's contract.
    """

    def __init__(
        self,
        broker: HardenedBroker,
        devices: list[str],
        batches: int,
        batch_size: int,
        *,
        rate: float | None = None,
        boot_id: str = "0" * 31 + "1",
    ):
        self.broker = broker
        self.devices = devices
        self.batches = batches
        self.batch_size = batch_size
        self.rate = rate
        self.boot_id = boot_id
        self._lock = threading.Lock()
        self._pending: dict[str, dict[int, int]] = {d: {} for d in devices}
        self._acked: dict[str, list[int]] = {d: [] for d in devices}
        self._early: dict[str, set[int]] = {d: set() for d in devices}
        self._sent = 0
        self._clients: list[mqtt.Client] = []
        self._threads: list[threading.Thread] = []

    def start(self) -> Fleet:
        per_device_rate = self.rate / len(self.devices) if self.rate else None
        for device in self.devices:
            payloads = make_batches(device, self.boot_id, self.batches, self.batch_size)
            client = mqtt_client(device_credential(device), f"dev-{device}")
            client.on_publish = self._on_publish_for(device)
            connect(client, self.broker.host, self.broker.port, persistent=True)
            self._clients.append(client)
            thread = threading.Thread(
                target=self._publish, args=(client, device, payloads, per_device_rate), daemon=True
            )
            self._threads.append(thread)
        for thread in self._threads:
            thread.start()
        return self

    def _on_publish_for(self, device: str):  # type: ignore[no-untyped-def]
        def on_publish(client: mqtt.Client, userdata: object, mid: int, *args: object) -> None:
            # paho calls this holding its own lock: never publish while holding ours.
            with self._lock:
                first = self._pending[device].pop(mid, None)
                if first is None:
                    self._early[device].add(mid)  # acked before _publish registered it
                else:
                    self._acked[device].append(first)

        return on_publish

    def _publish(
        self, client: mqtt.Client, device: str, payloads: list[bytes], rate: float | None
    ) -> None:
        topic = mqtt_topic(SITE, device, "telemetry")
        started = time.monotonic()
        for i, payload in enumerate(payloads):
            if rate:
                delay = started + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            # paho keeps a message it could not send (not connected) and resends it after
            # reconnecting, so every publish is eventually PUBACKed.
            info = client.publish(topic, payload, qos=1)
            with self._lock:
                if info.mid in self._early[device]:
                    self._early[device].discard(info.mid)
                    self._acked[device].append(i * self.batch_size)
                else:
                    self._pending[device][info.mid] = i * self.batch_size
                self._sent += 1

    def sent(self) -> int:
        """Messages handed to the MQTT clients so far."""
        return self._sent

    def wait_sent(self, fraction: float, timeout: float = 120) -> None:
        """Block until ``fraction`` of the stream was handed out: faults strike mid-stream."""
        target = fraction * self.batches * len(self.devices)
        deadline = time.monotonic() + timeout
        while self.sent() < target:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {self.sent()} of {target:.0f} messages sent")
            time.sleep(0.02)

    def wait_published(self, timeout: float = 120) -> None:
        for thread in self._threads:
            thread.join(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                waiting = sum(len(p) for p in self._pending.values())
            if not waiting:
                return
            time.sleep(0.1)
        raise AssertionError(f"{waiting} publishes never PUBACKed by Mosquitto")

    def acked(self) -> set[tuple[str, int]]:
        with self._lock:
            return {
                (device, seq)
                for device, firsts in self._acked.items()
                for first in firsts
                for seq in range(first, first + self.batch_size)
            }

    def stop(self) -> None:
        for client in self._clients:
            client.disconnect()
            client.loop_stop()


def bridge_process(
    run_dir: Path,
    broker: HardenedBroker,
    bootstrap: str,
    *,
    prefix: str,
    client_id: str,
    share_group: str,
    tls: bool = False,
) -> ManagedProcess:
    """The real ``fieldlink bridge run`` as a supervised subprocess (SIGKILL-able)."""
    metrics_port = free_port()
    config = run_dir / f"{client_id}.toml"
    run_dir.mkdir(parents=True, exist_ok=True)
    config.write_text(
        f'mqtt_host = "{"localhost" if tls else broker.host}"\n'
        f"mqtt_port = {broker.tls_port if tls else broker.port}\n"
        + (f'mqtt_tls_ca = "{broker.tls.ca_cert}"\n' if tls else "")
        + f'mqtt_username = "{BRIDGE_USER.username}"\n'
        f'mqtt_password = "{BRIDGE_USER.password}"\n'
        f'mqtt_client_id = "{client_id}"\n'
        f'share_group = "{share_group}"\n'
        f'kafka_bootstrap = "{bootstrap}"\n'
        f'topic_prefix = "{prefix}"\n'
        f'downstream_group = "{prefix}-downstream"\n'
        f"metrics_port = {metrics_port}\n"
    )
    fieldlink = Path(sys.executable).parent / "fieldlink"
    process = ManagedProcess(
        f"bridge-{client_id}",
        [fieldlink, "-v", "bridge", "run", "--config", config],
        run_dir=run_dir,
        ready=lambda: port_open("127.0.0.1", metrics_port),
        ready_timeout=60,
        env={"PYTHONUNBUFFERED": "1"},
    )
    process.metrics_port = metrics_port  # type: ignore[attr-defined]
    return process


@dataclass
class KafkaTally:
    """Every telemetry record in a topic, counted per (device, seq)."""

    counts: collections.Counter[tuple[str, int]] = field(default_factory=collections.Counter)
    order: dict[str, list[int]] = field(default_factory=dict)
    records: int = 0

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in self.counts.values() if n > 1)


async def read_topic(
    bootstrap: str, topic: str, *, until: set[tuple[str, int]], idle_s: float = 30
) -> KafkaTally:
    """Read ``topic`` from the start until every key of ``until`` is seen, or nothing new
    arrives for ``idle_s`` (then the tally shows what is missing)."""
    from fieldlink.messages import decode

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    tally = KafkaTally()
    try:
        partitions = consumer.partitions_for_topic(topic)
        while not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic)
        consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
        await consumer.seek_to_beginning()
        missing = set(until)
        last_progress = time.monotonic()
        while missing and time.monotonic() - last_progress < idle_s:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for records in batches.values():
                for record in records:
                    batch = decode(record.value, ReadingBatch)
                    tally.records += 1
                    last_progress = time.monotonic()
                    for reading in batch.readings:
                        key = (reading.device, reading.seq)
                        tally.counts[key] += 1
                        tally.order.setdefault(reading.device, []).append(reading.seq)
                        missing.discard(key)
    finally:
        await consumer.stop()
    return tally


def metric(process: ManagedProcess, name: str, **labels: str) -> float:
    """One sample from a bridge subprocess's Prometheus endpoint (0 when absent)."""
    import urllib.request

    port = process.metrics_port  # type: ignore[attr-defined]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    selector = ",".join(f'{key}="{value}"' for key, value in labels.items())
    wanted = f"{name}{{{selector}}}" if labels else name
    for line in text.splitlines():
        if line.startswith(wanted + " "):
            return float(line.split()[-1])
    return 0.0
