"""Kafka -> MQTT: alerts and commands go back to the devices' own topics, QoS1.

Offsets are committed only after every publish of a fetched batch was PUBACKed by Mosquitto,
so a bridge crash re-publishes rather than drops (devices dedupe by alert/command id).
Records that do not decode are dead-lettered with their reason and skipped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from fieldlink.errors import DecodeError

from .metrics import BridgeMetrics
from .routing import Router

__all__ = ["Downstream"]

logger = logging.getLogger(__name__)

Publish = Callable[[str, bytes], Awaitable[None]]


class Downstream:
    def __init__(
        self,
        *,
        router: Router,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        publish: Publish,
        metrics: BridgeMetrics,
    ):
        self.router = router
        self.consumer = consumer
        self.producer = producer
        self.publish = publish
        self.metrics = metrics

    async def run(self) -> None:
        await self.consumer.start()
        while True:
            batches = await self.consumer.getmany(timeout_ms=1000, max_records=500)
            if not batches:
                continue
            pending = []
            for records in batches.values():
                for record in records:
                    pending.append(self._forward(record.topic, record.value or b""))
            await asyncio.gather(*pending)
            await self.consumer.commit()

    async def _forward(self, topic: str, value: bytes) -> None:
        try:
            downlink = self.router.downstream(topic, value)
        except DecodeError as exc:
            route = self.router.downstream_dead_letter(topic, value, exc)
            await self.producer.send_and_wait(
                route.kafka_topic, value=route.value, key=route.key, headers=list(route.headers)
            )
            self.metrics.deadletters.labels(reason=exc.reason.value).inc()
            logger.warning("dead letter from Kafka topic %s: %s", topic, exc)
            return
        await self.publish(downlink.mqtt_topic, downlink.payload)
        self.metrics.downlinks.labels(channel=downlink.channel.value).inc()
