from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from broker.topics import TopicSpec, ensure_topics
from lab.services import KafkaServer

pytestmark = pytest.mark.integration


async def test_topics_are_created_once_with_partitions_and_retention(
    kafka: KafkaServer, unique: str
):
    specs = {f"{unique}.a": TopicSpec(4, 3_600_000), f"{unique}.b": TopicSpec(1, -1)}
    assert sorted(await ensure_topics(kafka.bootstrap_servers, specs)) == sorted(specs)
    assert await ensure_topics(kafka.bootstrap_servers, specs) == []

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics(list(specs))
        partitions = {t["topic"]: len(t["partitions"]) for t in described}
        configs = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in specs]
        )
    finally:
        await admin.close()
    assert partitions == {f"{unique}.a": 4, f"{unique}.b": 1}
    retention = {}
    for response in configs:
        for resource in response.resources:
            name = resource[3]
            for entry in resource[4]:
                if entry[0] == "retention.ms":
                    retention[name] = entry[1]
    assert retention == {f"{unique}.a": "3600000", f"{unique}.b": "-1"}
