"""The real Kafka (KRaft) started by the lab: create a topic, produce, consume every record."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from lab.services import KafkaServer

pytestmark = pytest.mark.integration


async def test_create_produce_consume_round_trip(kafka: KafkaServer, unique: str):
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(unique, num_partitions=3, replication_factor=1)])
        assert unique in await admin.list_topics()
    finally:
        await admin.close()

    producer = AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        for i in range(1000):
            await producer.send(unique, key=f"dev-{i % 7}".encode(), value=str(i).encode())
        await producer.flush()
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        unique,
        bootstrap_servers=kafka.bootstrap_servers,
        group_id=unique,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen: list[int] = []
    per_key: dict[bytes, list[int]] = {}
    try:
        while len(seen) < 1000:
            batches = await consumer.getmany(timeout_ms=10_000)
            assert batches, f"no records within 10 s after {len(seen)}"
            for records in batches.values():
                for record in records:
                    assert record.key is not None
                    assert record.value is not None
                    value = int(record.value)
                    seen.append(value)
                    per_key.setdefault(record.key, []).append(value)
    finally:
        await consumer.stop()
    assert sorted(seen) == list(range(1000))
    # Keyed records stay ordered within their partition.
    assert all(values == sorted(values) for values in per_key.values())
