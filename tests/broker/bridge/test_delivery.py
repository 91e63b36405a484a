"""At-least-once through the real Mosquitto and Kafka, counted exactly per (device, seq).

Each test streams 100,000 readings (10 devices x 1,000 batches x 10 readings) from device
credentials through a hardened Mosquitto and the real ``fieldlink bridge run`` subprocess,
then reads the Kafka topic back and compares with what Mosquitto PUBACKed to the devices.
Loss is never allowed; duplicates only where a crash or restart makes them unavoidable
(they are counted and printed).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from lab.services import KafkaServer, ManagedProcess
from lab.settings import LabSettings
from tests.broker.bridge.conftest import DEVICES
from tests.broker.harness import (
    Fleet,
    HardenedBroker,
    KafkaTally,
    bridge_process,
    metric,
    read_topic,
)

pytestmark = pytest.mark.integration

BATCHES = 1_000
BATCH_SIZE = 10
TOTAL = len(DEVICES) * BATCHES * BATCH_SIZE


def _bridge(
    tmp_path: Path,
    broker: HardenedBroker,
    bootstrap: str,
    unique: str,
    name: str = "a",
    *,
    shared: bool = True,
) -> ManagedProcess:
    return bridge_process(
        tmp_path / "bridge",
        broker,
        bootstrap,
        prefix=unique,
        client_id=f"{unique}-{name}",
        share_group=unique if shared else "",
    )


def _verify(bootstrap: str, topic: str, fleet: Fleet, *, duplicates_allowed: bool) -> KafkaTally:
    fleet.wait_published()
    acked = fleet.acked()
    assert len(acked) == TOTAL, "every publish was PUBACKed by Mosquitto"
    tally = asyncio.run(read_topic(bootstrap, topic, until=acked))
    missing = acked - set(tally.counts)
    print(
        f"\n{topic}: records {tally.records}, readings {sum(tally.counts.values())}, "
        f"distinct {len(tally.counts)}, missing {len(missing)}, duplicates {tally.duplicates}"
    )
    assert not missing, f"{len(missing)} PUBACKed readings not in Kafka: {sorted(missing)[:5]}"
    assert set(tally.counts) == acked
    if not duplicates_allowed:
        assert tally.duplicates == 0
    return tally


def test_100k_readings_arrive_none_missing_in_device_order(
    broker: HardenedBroker, kafka: KafkaServer, tmp_path: Path, unique: str
):
    with _bridge(tmp_path, broker, kafka.bootstrap_servers, unique):
        fleet = Fleet(broker, DEVICES, BATCHES, BATCH_SIZE).start()
        try:
            tally = _verify(
                kafka.bootstrap_servers, f"{unique}.telemetry", fleet, duplicates_allowed=False
            )
        finally:
            fleet.stop()
    assert sum(tally.counts.values()) == TOTAL
    for device, seqs in tally.order.items():
        assert seqs == sorted(seqs), f"{device}'s readings out of order in its partition"


def test_bridge_sigkilled_twice_mid_stream_loses_nothing(
    broker: HardenedBroker, kafka: KafkaServer, tmp_path: Path, unique: str
):
    bridge = _bridge(tmp_path, broker, kafka.bootstrap_servers, unique)
    with bridge:
        fleet = Fleet(broker, DEVICES, BATCHES, BATCH_SIZE, rate=1_500).start()
        try:
            for fraction in (0.25, 0.6):
                fleet.wait_sent(fraction)
                bridge.kill()
                bridge.start()
            _verify(kafka.bootstrap_servers, f"{unique}.telemetry", fleet, duplicates_allowed=True)
        finally:
            fleet.stop()


def test_mosquitto_restarted_mid_stream_loses_nothing(
    broker: HardenedBroker, kafka: KafkaServer, tmp_path: Path, unique: str
):
    # Mosquitto 2.0.11 does not persist shared subscriptions (see BridgeSettings.share_group):
    # the restart-safe deployment is one bridge on a plain, persisted subscription.
    with _bridge(tmp_path, broker, kafka.bootstrap_servers, unique, shared=False):
        fleet = Fleet(broker, DEVICES, BATCHES, BATCH_SIZE, rate=1_500).start()
        try:
            fleet.wait_sent(0.4)
            broker.server.restart()
            # Devices and bridge reconnect by themselves; QoS1 redelivery may duplicate.
            _verify(kafka.bootstrap_servers, f"{unique}.telemetry", fleet, duplicates_allowed=True)
        finally:
            fleet.stop()


def test_kafka_restarted_mid_stream_loses_nothing(
    broker: HardenedBroker,
    lab_settings: LabSettings,
    tmp_path: Path,
    unique: str,
):
    # A private Kafka: restarting the shared one would disturb other tests.
    with KafkaServer(tmp_path / "kafka", home=lab_settings.kafka_home) as private_kafka:
        bootstrap = private_kafka.bootstrap_servers
        with _bridge(tmp_path, broker, bootstrap, unique):
            fleet = Fleet(broker, DEVICES, BATCHES, BATCH_SIZE, rate=1_500).start()
            try:
                fleet.wait_sent(0.3)
                private_kafka.restart()
                _verify(bootstrap, f"{unique}.telemetry", fleet, duplicates_allowed=True)
            finally:
                fleet.stop()


def test_two_bridges_share_the_load_and_lose_nothing(
    broker: HardenedBroker, kafka: KafkaServer, tmp_path: Path, unique: str
):
    first = _bridge(tmp_path, broker, kafka.bootstrap_servers, unique, "a")
    second = _bridge(tmp_path, broker, kafka.bootstrap_servers, unique, "b")
    with first, second:
        fleet = Fleet(broker, DEVICES, BATCHES, BATCH_SIZE).start()
        try:
            _verify(kafka.bootstrap_servers, f"{unique}.telemetry", fleet, duplicates_allowed=False)
        finally:
            fleet.stop()
        shares = [
            int(metric(p, "fieldlink_bridge_messages_total", channel="telemetry"))
            for p in (first, second)
        ]
    print(f"messages forwarded per bridge: {shares}")
    assert sum(shares) == TOTAL // BATCH_SIZE
    assert all(share > 0 for share in shares), "both instances took part"


def test_bridge_over_tls_with_the_generated_ca(
    broker: HardenedBroker, kafka: KafkaServer, tmp_path: Path, unique: str
):
    bridge = bridge_process(
        tmp_path / "bridge",
        broker,
        kafka.bootstrap_servers,
        prefix=unique,
        client_id=f"{unique}-tls",
        share_group=unique,
        tls=True,
    )
    with bridge:
        fleet = Fleet(broker, DEVICES[:2], 100, BATCH_SIZE).start()
        try:
            fleet.wait_published()
            acked = fleet.acked()
            assert len(acked) == 2 * 100 * BATCH_SIZE
            tally = asyncio.run(
                read_topic(kafka.bootstrap_servers, f"{unique}.telemetry", until=acked)
            )
        finally:
            fleet.stop()
    assert set(tally.counts) == acked
    assert tally.duplicates == 0
