"""The bridge service: wires settings, MQTT, Kafka, metrics and the two directions.

>>> bridge = Bridge(BridgeSettings.load(mqtt_client_id="bridge-a"))  # doctest: +SKIP
>>> asyncio.run(bridge.run())                                          # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from broker.topics import ensure_topics
from fieldlink.messages import Channel, MqttTopic

from .downstream import Downstream
from .metrics import BridgeMetrics
from .mqtt import MqttLink
from .routing import Router
from .settings import BridgeSettings
from .upstream import Upstream

__all__ = ["Bridge"]

logger = logging.getLogger(__name__)


class Bridge:
    """One bridge instance. Run several with distinct ``mqtt_client_id`` to share the load."""

    def __init__(self, settings: BridgeSettings, *, metrics: BridgeMetrics | None = None):
        self.settings = settings
        self.metrics = metrics or BridgeMetrics()
        self.router = Router(
            settings.kafka_topics,
            max_payload_bytes=settings.max_payload_bytes,
            backlog_lane=settings.backlog_lane,
        )
        self._stop = asyncio.Event()

    def subscriptions(self) -> list[str]:
        group = self.settings.share_group or None
        return [
            MqttTopic.subscription(Channel.TELEMETRY, share_group=group),
            MqttTopic.subscription(Channel.STATUS, share_group=group),
        ]

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Run until :meth:`stop` (or SIGTERM/SIGINT when installed by the CLI)."""
        settings = self.settings
        loop = asyncio.get_running_loop()
        if settings.create_topics:
            await ensure_topics(settings.kafka_bootstrap, settings.topic_specs())
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap,
            acks="all",
            enable_idempotence=True,
            linger_ms=settings.kafka_linger_ms,
            max_batch_size=256 * 1024,
            max_request_size=4 * 1024 * 1024,
            client_id=settings.mqtt_client_id,
        )
        await producer.start()
        upstream: Upstream | None = None
        link: MqttLink | None = None
        tasks: list[asyncio.Task[None]] = []
        consumer: AIOKafkaConsumer | None = None
        try:
            link = MqttLink(
                settings,
                subscriptions=self.subscriptions(),
                on_messages=lambda batch: upstream.submit(batch) if upstream else None,
                loop=loop,
            )
            upstream = Upstream(
                router=self.router,
                producer=producer,
                ack=link.ack,
                metrics=self.metrics,
                retry_backoff_s=settings.kafka_retry_backoff_s,
            )
            tasks.append(asyncio.create_task(upstream.run(), name="upstream"))
            await link.start()
            if settings.metrics_port:
                self.metrics.serve(settings.metrics_host, settings.metrics_port)
            if settings.downstream:
                topics = settings.kafka_topics
                consumer = AIOKafkaConsumer(
                    topics.alerts,
                    topics.commands,
                    bootstrap_servers=settings.kafka_bootstrap,
                    group_id=settings.downstream_group,
                    enable_auto_commit=False,
                    auto_offset_reset="earliest",
                    client_id=settings.mqtt_client_id,
                )
                downstream = Downstream(
                    router=self.router,
                    consumer=consumer,
                    producer=producer,
                    publish=link.publish,
                    metrics=self.metrics,
                )
                # Joining the group can take a session timeout after a crash; upstream
                # does not wait for it.
                tasks.append(asyncio.create_task(downstream.run(), name="downstream"))
            logger.info(
                "bridge %s running: MQTT %s:%d -> Kafka %s",
                settings.mqtt_client_id,
                settings.mqtt_host,
                settings.mqtt_port,
                settings.kafka_bootstrap,
            )
            stopper = asyncio.create_task(self._stop.wait())
            done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stopper:
                    task.result()  # a crashed task ends the service with its exception
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if upstream is not None:
                await upstream.drain()
            if link is not None:
                link.stop()
            if consumer is not None:
                with contextlib.suppress(Exception):  # never started if we stop early
                    await consumer.stop()
            await producer.stop()
            logger.info("bridge %s stopped", settings.mqtt_client_id)

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
