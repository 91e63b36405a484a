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

    def submit(self, messages: list[Inbound]) -> None:
        self.metrics.in_flight.inc(len(messages))
        self._queue.put_nowait(messages)

    async def run(self) -> None:
        """Route and hand records to the producer in arrival order, forever."""
        while True:
            batch = await self._queue.get()
            for message in batch:
                route = self.router.upstream(message.topic, message.payload)
                started = self.clock()
                delivery = await self._send(route)
                # A callback, not a task per message: this is the bridge's hot path.
                delivery.add_done_callback(partial(self._delivered, message, route, started))

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
