"""The Faust app: thin agents around :class:`cloud.handlers.Handlers`.

Telemetry comes in two lanes, live and drained backlog
(:meth:`fieldlink.messages.KafkaTopics.telemetry_lanes`), each read by its own agent; an
agent hands the records the consumer has already delivered (up to ``batch_max_records``) to
the handlers as one batch, and they are acked once their data is in InfluxDB and their
state committed. The two agents take turns, one batch at a time, and the consumer hands out
each poll's live records first, so a live record waits for at most one batch of backlog,
never for the whole drain. (The bridge fills the backlog lane only with its
``backlog_lane`` setting on; otherwise that agent idles.) Status has an agent of its own. All state
lives in one table (``state``) whose changelog is co-partitioned with the telemetry topics,
so a restarted or newly assigned worker recovers it; see :mod:`cloud.processing.pipeline`
for why one table and why replays are harmless.

>>> from cloud.settings import CloudSettings
>>> app = create_app(CloudSettings.load(store="memory://", app_id="doc"))  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Callable
from contextvars import Context, copy_context
from typing import Any

import faust
from faust.transport.utils import DefaultSchedulingStrategy

from cloud.handlers import Handlers, Record
from cloud.settings import CloudSettings
from cloud.sink import InfluxSink
from fieldlink.messages import KafkaTopics

__all__ = ["create_app", "read_range"]


def _live_first(backlog_topic: str) -> type[DefaultSchedulingStrategy]:
    """Faust's round-robin record scheduling, with the backlog lane's records after all
    others of each poll."""

    class LiveFirst(DefaultSchedulingStrategy):
        def iterate(self, records: Any) -> Any:
            rest = {tp: items for tp, items in records.items() if tp.topic != backlog_topic}
            backlog = {tp: items for tp, items in records.items() if tp.topic == backlog_topic}
            yield from super().iterate(rest)
            yield from super().iterate(backlog)

    return LiveFirst


async def read_range(
    bootstrap: str, topic: str, partition: int, start: int, end: int
) -> list[tuple[int, bytes, int]]:
    """Records ``[start, end)`` of one partition as (offset, value, timestamp ns), read
    outside any consumer group (offsets of records deleted by retention are skipped)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    tp = TopicPartition(topic, partition)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([tp])
        earliest = (await consumer.beginning_offsets([tp]))[tp]
        consumer.seek(tp, max(start, earliest))
        out: list[tuple[int, bytes, int]] = []
        while await consumer.position(tp) < end:
            for record in (await consumer.getmany(tp, timeout_ms=5000)).get(tp, []):
                if record.offset >= end:
                    break
                out.append((record.offset, record.value or b"", record.timestamp * 1_000_000))
        return out
    finally:
        await consumer.stop()


def create_app(
    settings: CloudSettings,
    *,
    sink: InfluxSink | None = None,
    clock: Callable[[], int] = time.time_ns,
) -> faust.App:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    topics = KafkaTopics(settings.topic_prefix)
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store=settings.store,
        datadir=settings.data_dir,
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        table_standby_replicas=0,
        web_enabled=False,
        broker_commit_interval=1.0,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_s / 3),
        consumer_auto_offset_reset="earliest",
        ConsumerScheduler=_live_first(topics.telemetry_backlog),
        producer_acks=-1,
        key_serializer="raw",
        value_serializer="raw",
    )
    # Table writes queue up in the producer's buffer, and past max_messages (100) Faust
    # stops the stream and drains it one message per event-loop handshake, with 0.1 s
    # timeouts (faust-streaming issue #173: "producer buffer full", flushes of seconds).
    # Committing a batch of records writes far more than 100 keys; the buffer is bounded
    # by the batch anyway.
    app.producer.buffer.max_messages = max(10_000, 64 * settings.batch_max_records)

    async def send_changelog() -> None:
        # Hand the table's changelog writes of a committed batch to the Kafka producer at
        # once. Faust queues them in its producer buffer, whose own task sends one per
        # event-loop turn and whose flush() waits for each with a 0.1 s timeout: a worker
        # writing a few thousand keys a second fell behind it, Faust stalled the stream at
        # max_messages and its commits (which flush first) ran for tens of seconds - every
        # record then waited seconds before the agent saw it.
        buffer: Any = app.producer.buffer  # faust.transport.producer.ProducerBuffer
        while True:
            try:
                pending = buffer.pending.get_nowait()
            except asyncio.QueueEmpty:
                return
            await buffer._send_pending(pending)
            buffer.message_sent.set()

    def topic(name: str) -> Any:
        return app.topic(name, key_type=bytes, value_type=bytes, partitions=settings.partitions)

    lanes = [topic(name) for name in topics.telemetry_lanes()]
    status = topic(topics.status)
    alerts, deadletter = topic(topics.alerts), topic(topics.deadletter)
    state = app.Table(
        "state",
        default=None,
        partitions=settings.partitions,
        schema=faust.Schema(key_serializer="json", value_serializer="json"),
    )

    async def publish_alert(key: str, value: bytes) -> None:
        await (await alerts.send(key=key.encode(), value=value))

    async def publish_deadletter(source: str, reason: str, detail: str, value: bytes) -> None:
        headers = {"source": source.encode(), "reason": reason.encode(),
                   "detail": detail[:1024].encode()}  # fmt: skip
        await (await deadletter.send(key=reason.encode(), value=value, headers=headers))

    async def fetch_range(
        lane: int, partition: int, start: int, end: int
    ) -> list[tuple[int, bytes, int]]:
        name = topics.telemetry_lanes()[lane]
        return await read_range(settings.kafka_bootstrap, name, partition, start, end)

    worker = f"{socket.gethostname()}-{os.getpid()}"
    handlers = Handlers(
        settings,
        store=state,
        sink=sink or InfluxSink(settings),
        publish_alert=publish_alert,
        publish_deadletter=publish_deadletter,
        clock=clock,
        worker=worker,
        fetch_range=fetch_range,
    )
    app.handlers = handlers  # type: ignore[attr-defined]
    started = time.monotonic()

    # One agent per lane, so each has its own buffer: Faust pauses a partition whose
    # agent's buffer is nearly full, and a full buffer of drained backlog then holds back
    # only the backlog lane. The agents take turns, one batch at a time, over the shared
    # state: a live record waits for at most one backlog batch.
    turn = asyncio.Lock()

    async def consume(lane: int, stream: Any) -> None:
        # A batch is what has already arrived, up to batch_max_records/bytes, gathered
        # outside the turn (nothing waits for the stream while holding it). Each record is
        # prepared in the event context it arrived in (Faust's table routes reads and
        # writes by the current event's partition). The records are acked by hand once
        # their data is stored and their state committed; before a rebalance Faust waits
        # for those acks (stream_wait_empty). (Not stream.take_events: it waits to fill
        # batches, runs the body outside any event context and acks a batch whose
        # processing raised.)
        manual = stream.noack()
        events = manual.events().__aiter__()
        stopping = False
        while not stopping:
            arrived: list[tuple[Any, Context]] = []
            size = 0
            # Only take another record that is already queued, and not while a rebalance
            # has suspended the flow (Faust then skips queued records and waits for acks).
            while not arrived or (
                len(arrived) < settings.batch_max_records
                and size < settings.batch_max_bytes
                and not manual.channel.empty()
                and app.flow_control.is_active()
            ):
                try:
                    event = await events.__anext__()
                except StopAsyncIteration:  # stopping: handle what arrived
                    stopping = True
                    break
                size += len(event.message.value or b"")
                arrived.append((event, copy_context()))
            if not arrived:
                continue
            async with turn:
                try:
                    batch = []
                    for event, context in arrived:
                        message = event.message
                        record = Record(
                            message.value,
                            message.offset,
                            message.partition,
                            int(message.timestamp * 1e9),
                            lane,
                        )
                        prepare = handlers.prepare(record)
                        prepared = await asyncio.create_task(prepare, context=context)
                        batch.append((prepared, context))
                    await handlers.finish(batch)
                    await send_changelog()
                except BaseException:
                    # Not committed, not acked: the records come again. What they staged
                    # must not reach the state through a later batch (Faust restarts a
                    # crashed agent in the same process).
                    handlers.abandon()
                    raise
            for event, _ in arrived:
                await manual.ack(event)

    @app.agent(lanes[0], name="on_telemetry")
    async def on_telemetry(stream: Any) -> None:
        await consume(0, stream)

    @app.agent(lanes[1], name="on_telemetry_backlog")
    async def on_telemetry_backlog(stream: Any) -> None:
        await consume(1, stream)

    @app.agent(status)
    async def on_status(stream: Any) -> None:
        async for event in stream.events():
            await handlers.status(event.message.value, ts_ns=int(event.message.timestamp * 1e9))

    deadman = settings.alerts.deadman

    @app.timer(interval=1.0)  # type: ignore[untyped-decorator]
    async def check_deadman() -> None:
        # After a restart, give the backlog time to arrive before calling anyone silent.
        if deadman is not None and time.monotonic() - started >= deadman.silent_s:
            assigned = app.consumer.assignment()
            highwaters = [
                {tp.partition: app.consumer.highwater(tp) for tp in assigned if tp.topic == name}
                for name in topics.telemetry_lanes()
            ]
            await handlers.deadman(handlers.partition_times(*highwaters))

    @app.timer(interval=5.0)  # type: ignore[untyped-decorator]
    async def report() -> None:
        await handlers.report()

    async def close_sink(sender: Any, *_: Any, signal: Any, **__: Any) -> None:
        await handlers.sink.close()  # its HTTP session, before the loop goes

    app.on_before_shutdown.connect(close_sink)  # type: ignore[arg-type]  # mode types it too narrowly

    return app
