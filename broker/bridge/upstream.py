"""MQTT -> Kafka: validate, produce, and acknowledge to MQTT only once Kafka has the record.

Messages are routed and handed to the producer strictly in arrival order, so records of one
device (one key, one partition) are appended in the order the device sent them. A produce
that fails is retried until it succeeds; the MQTT message stays unacknowledged all that time,
and if the bridge dies meanwhile Mosquitto redelivers it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from functools import partial

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner

from .metrics import BridgeMetrics
from .mqtt import Inbound
from .routing import Route, Router

__all__ = ["Upstream"]

logger = logging.getLogger(__name__)

Ack = Callable[[Inbound], bool]


class Upstream:
    """The upstream pipeline. ``submit`` is called (in the loop) with arrived messages."""

    def __init__(
        self,
        *,
        router: Router,
        producer: AIOKafkaProducer,
        ack: Ack,
        metrics: BridgeMetrics,
        retry_backoff_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.router = router
        self.producer = producer
        self.ack = ack
        self.metrics = metrics
        self.retry_backoff_s = retry_backoff_s
        self.clock = clock
        self._queue: asyncio.Queue[list[Inbound]] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()
        self._partitions: dict[str, list[int]] = {}
        self._partitioner = DefaultPartitioner()

    def submit(self, messages: list[Inbound]) -> None:
        self.metrics.in_flight.inc(len(messages))
        self._queue.put_nowait(messages)

    async def run(self) -> None:
        """Route and hand records to the producer in arrival order, forever.

        Each burst is grouped by (topic, partition) and handed over as one record batch per
        group: one accumulator call instead of one per message. Records of one device share
        a key, hence a partition, hence a group, and keep their arrival order in it.
        """
        while True:
            burst = await self._queue.get()
            while not self._queue.empty():
                burst += self._queue.get_nowait()
            started = self.clock()
            groups: dict[tuple[str, int], list[tuple[Inbound, Route]]] = {}
            for message in burst:
                route = self.router.upstream(message.topic, message.payload)
                partition = await self._partition(route)
                groups.setdefault((route.kafka_topic, partition), []).append((message, route))
            for (topic, partition), items in groups.items():
                await self._send_group(topic, partition, items, started)

    async def _partition(self, route: Route) -> int:
        partitions = self._partitions.get(route.kafka_topic)
        if partitions is None:
            while True:
                try:
                    known = await self.producer.partitions_for(route.kafka_topic)
                except KafkaError as exc:
                    logger.warning("no metadata for %s (%r); retrying", route.kafka_topic, exc)
                    await asyncio.sleep(self.retry_backoff_s)
                else:
                    break
            partitions = self._partitions[route.kafka_topic] = sorted(known)
        # The producer's own partitioner (murmur2, as Kafka's Java clients): a retried
        # record sent with send() lands in the same partition.
        return int(self._partitioner(route.key, partitions, partitions))

    async def _send_group(
        self, topic: str, partition: int, items: list[tuple[Inbound, Route]], started: float
    ) -> None:
        index = 0
        while index < len(items):
            batch = self.producer.create_batch()
            taken: list[tuple[Inbound, Route]] = []
            for message, route in items[index:]:
                appended = batch.append(
                    key=route.key, value=route.value, timestamp=None, headers=list(route.headers)
                )
                if appended is None:
                    break
                taken.append((message, route))
            if not taken:  # a record too large for an empty batch: send it on its own
                message, route = items[index]
                delivery = await self._send(route)
                delivery.add_done_callback(partial(self._delivered, message, route, started))
                index += 1
                continue
            index += len(taken)
            while True:
                try:
                    delivery = await self.producer.send_batch(batch, topic, partition=partition)
                except KafkaError as exc:
                    self.metrics.produce_retries.inc()
                    logger.warning("Kafka send to %s failed (%r); retrying", topic, exc)
                    await asyncio.sleep(self.retry_backoff_s)
                else:
                    break
            delivery.add_done_callback(partial(self._delivered_batch, taken, started))

    def _delivered_batch(
        self,
        items: list[tuple[Inbound, Route]],
        started: float,
        delivery: asyncio.Future[object],
    ) -> None:
        for message, route in items:
            self._delivered(message, route, started, delivery)

    async def _send(self, route: Route) -> asyncio.Future[object]:
        """Hand the record to the producer (blocks while Kafka is unreachable)."""
        while True:
            try:
                future: asyncio.Future[object] = await self.producer.send(
                    route.kafka_topic,
                    value=route.value,
                    key=route.key,
                    headers=list(route.headers) or None,
                )
            except KafkaError as exc:
                self.metrics.produce_retries.inc()
                logger.warning("Kafka send to %s failed (%r); retrying", route.kafka_topic, exc)
                await asyncio.sleep(self.retry_backoff_s)
            else:
                return future

    def _delivered(
        self, message: Inbound, route: Route, started: float, delivery: asyncio.Future[object]
    ) -> None:
        if delivery.cancelled():
            return  # shutting down: not acknowledged, Mosquitto redelivers
        error = delivery.exception()
        if error is None:
            self._finish(message, route, started)
            return
        self.metrics.produce_retries.inc()
        logger.warning("Kafka produce to %s failed (%r); retrying", route.kafka_topic, error)
        task = asyncio.create_task(self._retry(message, route, started))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _retry(self, message: Inbound, route: Route, started: float) -> None:
        while True:
            await asyncio.sleep(self.retry_backoff_s)
            try:
                await (await self._send(route))
            except KafkaError as exc:
                self.metrics.produce_retries.inc()
                logger.warning("Kafka produce to %s failed (%r); retrying", route.kafka_topic, exc)
            else:
                self._finish(message, route, started)
                return

    def _finish(self, message: Inbound, route: Route, started: float) -> None:
        self.metrics.produce_latency.observe(self.clock() - started)
        if route.reason is None:
            channel = route.channel.value if route.channel else "unknown"
            self.metrics.messages.labels(channel=channel).inc()
            self.metrics.readings.inc(route.readings)
        else:
            self.metrics.deadletters.labels(reason=route.reason.value).inc()
            logger.info(
                "dead letter from %s: %s", message.topic, dict(route.headers).get("detail", b"")
            )
        self.metrics.in_flight.dec()
        if not self.ack(message):
            self.metrics.stale_acks.inc()

    async def drain(self) -> None:
        """Cancel retries at shutdown: what they carry was never acknowledged."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
