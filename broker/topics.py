"""Create the Kafka topics fieldlink uses, with their partitions and retention.

Idempotent: topics that exist are left alone (their partition count is not changed, since
that would reshuffle keys across partitions and break per-device order).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from broker.errors import TopicSetupError

__all__ = ["TopicSpec", "ensure_topics"]

logger = logging.getLogger(__name__)

_TOPIC_ALREADY_EXISTS = 36


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """Partitions and retention of one topic. ``retention_ms=-1`` keeps records forever."""

    partitions: int
    retention_ms: int
    replication_factor: int = 1

    def new_topic(self, name: str) -> NewTopic:
        return NewTopic(
            name,
            num_partitions=self.partitions,
            replication_factor=self.replication_factor,
            topic_configs={"retention.ms": str(self.retention_ms)},
        )


async def ensure_topics(
    bootstrap_servers: str,
    specs: Mapping[str, TopicSpec],
    *,
    admin: AIOKafkaAdminClient | None = None,
) -> list[str]:
    """Create the missing topics of ``specs``; return the names created."""
    client = admin or AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await client.start()
    try:
        existing = set(await client.list_topics())
        missing = [name for name in specs if name not in existing]
        if not missing:
            return []
        response = await client.create_topics([specs[name].new_topic(name) for name in missing])
        for topic, code, *rest in response.topic_errors:
            if code not in (0, _TOPIC_ALREADY_EXISTS):
                detail = str(rest[0]) if rest and rest[0] else "see the Kafka log"
                raise TopicSetupError(topic, code, detail)
        logger.info("created Kafka topics %s", ", ".join(missing))
        return missing
    finally:
        await client.close()
