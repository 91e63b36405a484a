"""What the Faust agents delegate to: decode, run the pure core, store, publish, commit.

Kept free of Faust so the order of effects is plain to read and test: the data of a record
is written to InfluxDB (awaited, retried) and its alerts published before its state changes
are committed to the tables, and the record is acked only after that.

Records come in batches (what the consumer has already delivered, up to
``batch_max_records``; nothing waits for a batch to fill) and are handled in two stages.
*Prepare* runs the pure core, strictly in order, against the table as seen through
:class:`Overlay` (the table plus the staged updates of the batch's earlier records) and
queues the record's points with the sink, which coalesces the whole batch into a few
requests per bucket. *Settle*, once every point landed and strictly in order, publishes the
record's alerts and commits its state to the table; the agent then acks the batch. A
1,000-reading record and a 2-reading record cost about the same InfluxDB round trip, so
batching records, not only readings, is what keeps small live batches cheap.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import (
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    MutableMapping,
    Sequence,
)
from contextvars import Context
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from cloud.processing import DeviceLiveness, Outcome, Processor
from cloud.settings import CloudSettings
from cloud.sink import (
    InfluxSink,
    SinkRejectedError,
    aggregate_line,
    alert_line,
    bucket_for_width,
    reading_line,
    status_line,
)
from cloud.sink.lines import tagged
from fieldlink.messages import Alert, DecodeError, DeviceStatus, ReadingBatch, decode, encode

__all__ = ["Counters", "Handlers", "Overlay", "Record"]

logger = logging.getLogger(__name__)

Publish = Callable[[str, bytes], Awaitable[None]]
"""Send (key, value) to a Kafka topic and wait for the broker's ack."""

DeadLetter = Callable[[str, str, str, bytes], Awaitable[None]]
"""Send (source, reason, detail, raw value) to the dead-letter topic and wait for the ack."""

FetchRange = Callable[[int, int, int, int], Awaitable[list[tuple[int, bytes, int]]]]
"""Read records ``[start, end)`` of a partition of a telemetry lane, called with (lane,
partition, start, end): a list of (offset, value, ts_ns)."""


class Overlay(MutableMapping[str, Any]):
    """A table seen with the staged, not yet committed, updates of records in flight.

    >>> table = {"a": 1}
    >>> view = Overlay(table)
    >>> view.stage("a", 2)
    >>> view["a"], table["a"]
    (2, 1)
    >>> view["a"] = 2  # commit: the table gets it, the staged copy goes
    >>> table["a"], view.staged
    (2, {})
    """

    def __init__(self, base: MutableMapping[str, Any]):
        self.base = base
        self.staged: dict[str, Any] = {}

    def stage(self, key: str, value: Any) -> None:
        self.staged[key] = value

    def __getitem__(self, key: str) -> Any:
        if key in self.staged:
            return self.staged[key]
        return self.base[key]

    def get(self, key: str, default: Any = None) -> Any:
        if key in self.staged:
            return self.staged[key]
        return self.base.get(key, default)

    def __setitem__(self, key: str, value: Any) -> None:
        self.base[key] = value
        if key in self.staged and self.staged[key] is value:
            del self.staged[key]

    def __delitem__(self, key: str) -> None:
        self.staged.pop(key, None)
        del self.base[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.base)

    def __len__(self) -> int:
        return len(self.base)


class Record(NamedTuple):
    """A telemetry record as consumed from Kafka; ``lane`` 0 is the live topic, 1 the
    backlog topic (:meth:`fieldlink.messages.KafkaTopics.telemetry_lanes`)."""

    value: bytes
    offset: int
    partition: int
    ts_ns: int
    lane: int = 0


def position_key(lane: int, partition: int) -> str:
    """State key of the last offset handled in a lane's partition (and its Kafka time)."""
    return f"p|{partition}" if lane == 0 else f"p|{lane}|{partition}"


def order_key(partition: int) -> str:
    """State key of the batch in progress on a partition: the (lane, offset) of each of its
    records, in the order they were handled. Written before the batch's state, cleared after
    it; see :meth:`Handlers.finish`."""
    return f"i|{partition}"


@dataclass
class _Prepared:
    write: Callable[[], Awaitable[None]]
    """Wait until the record's points (queued at preparation) landed."""
    announce: Callable[[], Awaitable[None]]
    """Publish its alerts or dead letter, count: in record order, after ``write``."""
    updates: list[tuple[str, Any]] = field(default_factory=list)
    """State to commit after ``announce``: the core's updates, then the partition position."""
    source: tuple[int, int, int] | None = None
    """(partition, lane, offset) of the record."""


async def _nothing() -> None:
    return None


_RECENT = 5000
"""Timing percentiles are over each worker's last this many records."""


def _percentiles(name: str, values: Iterable[float]) -> dict[str, float]:
    """``{name}_p50_s`` and ``{name}_p99_s`` of the values (none if there are none)."""
    if not values:
        return {}
    ordered = sorted(values)
    return {
        f"{name}_p50_s": ordered[len(ordered) // 2],
        f"{name}_p99_s": ordered[int(len(ordered) * 0.99)],
    }


@dataclass
class Counters:
    records: int = 0
    batches: int = 0
    replayed: int = 0
    readings_fresh: int = 0
    duplicates: int = 0
    too_late: int = 0
    dead_letters: int = 0
    rejected_writes: int = 0
    alerts: int = 0
    statuses: int = 0
    refetched: int = 0
    resumed: int = 0
    """Records of interrupted batches handled again before their partition's next record."""
    missing: dict[str, int] = field(default_factory=dict)
    latencies_s: deque[float] = field(default_factory=lambda: deque(maxlen=_RECENT))
    edge_to_kafka_s: deque[float] = field(default_factory=lambda: deque(maxlen=_RECENT))
    """Per live record (a batch not drained from an edge buffer, whichever lane it came on):
    its newest reading's sample time to its Kafka append time."""
    kafka_to_stored_s: deque[float] = field(default_factory=lambda: deque(maxlen=_RECENT))
    """Per live record: its Kafka append time to its points acknowledged by InfluxDB."""
    backlog_kafka_to_stored_s: deque[float] = field(default_factory=lambda: deque(maxlen=_RECENT))
    """The same for records of drained batches (``ReadingBatch.backlog``), on either lane."""


class Handlers:
    """One worker's processing: see the module docstring for the order of effects."""

    def __init__(
        self,
        settings: CloudSettings,
        *,
        store: MutableMapping[str, Any],
        sink: InfluxSink,
        publish_alert: Publish,
        publish_deadletter: DeadLetter,
        clock: Callable[[], int] = time.time_ns,
        worker: str = "worker",
        fetch_range: FetchRange | None = None,
    ):
        self.settings = settings
        self.overlay = Overlay(store)
        self.processor = Processor(settings, self.overlay)
        self.sink = sink
        self.publish_alert = publish_alert
        self.publish_deadletter = publish_deadletter
        self.clock = clock
        self.worker = worker
        self.fetch_range = fetch_range
        self.counters = Counters()
        deadman = settings.alerts.deadman
        self.liveness = DeviceLiveness(deadman) if deadman else None
        self.partition_of: dict[str, int] = {}

    async def telemetry(
        self, value: bytes, *, offset: int, partition: int, ts_ns: int, lane: int = 0
    ) -> None:
        """Handle one record completely."""
        await self.batch([Record(value, offset, partition, ts_ns, lane)])

    async def batch(self, records: Sequence[Record]) -> None:
        """Handle records completely, in order (see :meth:`prepare` and :meth:`finish`)."""
        await self.finish([(await self.prepare(record), None) for record in records])

    async def prepare(self, record: Record) -> list[_Prepared]:
        """Run the pure core on a record (and first on any the consumer skipped before it,
        and on an interrupted batch's) and queue its points with the sink. Records of a
        lane must be prepared in their Kafka order."""
        return await self._prepare_all(*record)

    async def finish(self, batch: Sequence[tuple[list[_Prepared], Context | None]]) -> None:
        """Wait until every point of the prepared records landed, publish their alerts in
        order, then commit the batch's state; the caller acks the records afterwards.

        Only each key's final value is committed, and windows before alert state before
        dedup entries before positions, as a single record commits them: whatever prefix of
        the commit survives a crash, the replayed records skip what their offsets show
        applied and apply the rest once (:mod:`cloud.processing.pipeline`). A key is
        written in the ``Context`` of the record that last changed it, if given (Faust
        picks the changelog partition of a table write through the current event, a
        context variable).

        The two telemetry lanes are consumed independently, so after a crash the records
        of a partially committed batch could come back interleaved across lanes in another
        order than they were handled, and a reading both lanes carry could then be counted
        by the other record. So each partition's commit is framed: first the batch's
        order (:func:`order_key`), last its clearing. A worker that finds an order still
        set replays exactly those records, in that order, before anything else of the
        partition (:meth:`_prepare_all`)."""
        self.counters.batches += 1
        self.sink.flush()
        for prepared, _ in batch:
            for item in prepared:
                await item.write()
        final: dict[str, tuple[Any, Context | None]] = {}
        orders: dict[int, tuple[list[list[int]], Context | None]] = {}
        for prepared, context in batch:
            for item in prepared:
                await item.announce()
                for key, value in item.updates:
                    final[key] = (value, context)
                if item.source is not None:
                    partition, lane, offset = item.source
                    orders.setdefault(partition, ([], context))[0].append([lane, offset])
        for partition, (order, context) in orders.items():
            self._set(order_key(partition), order, context)
        for key in sorted(final, key=Processor.commit_rank):
            value, context = final[key]
            self._set(key, Processor.committed(key, value), context)
            staged = self.overlay.staged
            if key in staged and staged[key] is value:  # committed as None
                del staged[key]
        for partition, (_, context) in orders.items():
            self._set(order_key(partition), None, context)

    def abandon(self) -> None:
        """Forget what records prepared and not finished staged (their batch failed and is
        redelivered): a later batch must not commit it as if they had been handled."""
        self.overlay.staged.clear()

    def _set(self, key: str, value: Any, context: Context | None) -> None:
        if context is None:
            self.overlay[key] = value
        else:
            context.run(self.overlay.__setitem__, key, value)

    async def _prepare_all(
        self, value: bytes, offset: int, partition: int, ts_ns: int, lane: int = 0
    ) -> list[_Prepared]:
        """Prepare a record, and first the records of an interrupted batch of its partition
        (:meth:`finish`) and any the consumer skipped. If Faust hands us an offset beyond
        the next one we expect for the lane's partition, the records in between were acked
        without being delivered (faust-streaming does that around rebalances)."""
        out = await self._resume(partition)
        last = self.overlay.get(position_key(lane, partition))
        expected = last["o"] + 1 if last is not None else 0  # 0: from the partition's start
        if offset > expected and self.fetch_range is not None:
            missed = await self.fetch_range(lane, partition, expected, offset)
            self.counters.refetched += len(missed)
            if missed:
                logger.warning(
                    "lane %d partition %d: offsets %d-%d were never delivered; fetched %d",
                    lane, partition, missed[0][0], offset - 1, len(missed),
                )  # fmt: skip
            out += self._prepare_fetched(lane, partition, missed)
        out.append(self._prepare(value, offset, partition, ts_ns, lane))
        return out

    async def _resume(self, partition: int) -> list[_Prepared]:
        """The records of the partition's interrupted batch, prepared again in the order
        they were first handled: they complete what of their state was committed."""
        key = order_key(partition)
        order = self.overlay.get(key)
        if not order:
            return []
        if self.fetch_range is None:
            raise RuntimeError(f"partition {partition}: an interrupted batch needs fetch_range")
        runs: list[list[int]] = []  # [lane, first, last] of consecutive offsets
        for lane, offset in order:
            if runs and runs[-1][0] == lane and runs[-1][2] == offset - 1:
                runs[-1][2] = offset
            else:
                runs.append([lane, offset, offset])
        out = []
        for lane, first, last in runs:
            fetched = await self.fetch_range(lane, partition, first, last + 1)
            out += self._prepare_fetched(lane, partition, fetched)
        self.overlay.stage(key, None)  # resumed once; this batch commits its own order
        self.counters.resumed += len(out)
        logger.warning(
            "partition %d: resumed an interrupted batch of %d records", partition, len(out)
        )
        return out

    def _prepare_fetched(
        self, lane: int, partition: int, fetched: list[tuple[int, bytes, int]]
    ) -> list[_Prepared]:
        """Prepare records read with ``fetch_range``, in their order."""
        return [
            self._prepare(value, offset, partition, ts_ns, lane) for offset, value, ts_ns in fetched
        ]

    def _prepare(
        self, value: bytes, offset: int, partition: int, ts_ns: int, lane: int = 0
    ) -> _Prepared:
        started = time.perf_counter()
        self.counters.records += 1
        source = (partition, lane, offset)
        position = self._stage_position(lane, partition, offset, ts_ns)
        try:
            batch = decode(value, ReadingBatch)
        except DecodeError as exc:
            error = exc

            async def dead_letter() -> None:
                await self._dead_letter("telemetry", value, error)

            return _Prepared(_nothing, dead_letter, position, source)
        self.partition_of[batch.device] = partition
        outcome = self.processor.process(batch, now_ns=self.clock(), offset=offset, lane=lane)
        if outcome.replayed:
            self.counters.replayed += 1

            return _Prepared(_nothing, _nothing, position, source)
        for key, staged in outcome.updates:
            self.overlay.stage(key, staged)
        alerts = list(outcome.alerts)
        if self.liveness is not None:
            alerts += self.liveness.seen(batch.device, batch.site, ts_ns)
        # Queued now, while records are prepared strictly in order: the sink lands each
        # bucket's lines in queue order, so a window's older snapshot never lands last.
        # Sent when the batch finishes (one request per bucket for the whole batch).
        landed = self._submit_all(self._lines(outcome, alerts, ts_ns), flush=False)

        async def write() -> None:
            await self._await_all(landed)

        async def announce() -> None:
            for alert in alerts:
                await self.publish_alert(alert.device, encode(alert))
            c = self.counters
            c.readings_fresh += len(outcome.raw)
            c.duplicates += outcome.duplicates
            c.too_late += outcome.too_late
            c.alerts += len(alerts)
            c.missing[batch.device] = outcome.missing
            c.latencies_s.append(time.perf_counter() - started)
            if outcome.raw and not batch.backlog:
                newest = max(r.ts_ns for r in outcome.raw)
                c.edge_to_kafka_s.append((ts_ns - newest) / 1e9)
                c.kafka_to_stored_s.append((self.clock() - ts_ns) / 1e9)
            elif outcome.raw:
                c.backlog_kafka_to_stored_s.append((self.clock() - ts_ns) / 1e9)

        return _Prepared(write, announce, [*outcome.updates, *position], source)

    def _stage_position(
        self, lane: int, partition: int, offset: int, ts_ns: int
    ) -> list[tuple[str, Any]]:
        """Stage the lane partition's last handled offset and its Kafka time (committed
        after everything else)."""
        key = position_key(lane, partition)
        last = self.overlay.get(key)
        if last is not None and offset <= last["o"]:
            return []
        entry = {"o": offset, "t": ts_ns}
        self.overlay.stage(key, entry)
        return [(key, entry)]

    def _lines(self, outcome: Outcome, alerts: list[Alert], seen_ns: int) -> dict[str, list[str]]:
        """Every point of a record, by bucket kind. Raw points, events and the device line
        are the same whichever record writes them; an aggregate is the window's statistics
        after this record."""
        writes: dict[str, list[str]] = {"raw": [reading_line(r, outcome.site) for r in outcome.raw]}
        writes["events"] = [alert_line(a) for a in alerts]
        writes["pipeline"] = [
            tagged(
                "device",
                {"device": outcome.device, "site": outcome.site},
                {
                    "seen_ns": seen_ns,
                    "missing": outcome.missing,
                    "duplicates": outcome.duplicates,
                    "fresh": len(outcome.raw),
                    "too_late": outcome.too_late,
                },
                seen_ns,
            )
        ]
        for agg in outcome.aggregates:
            writes.setdefault(bucket_for_width(agg.width_s), []).append(aggregate_line(agg))
        return writes

    def _submit_all(
        self, writes: dict[str, list[str]], *, flush: bool = True
    ) -> list[tuple[str, asyncio.Future[None]]]:
        return [
            (kind, self.sink.submit(kind, lines, flush=flush))
            for kind, lines in writes.items()
            if lines
        ]

    async def _await_all(self, landed: list[tuple[str, asyncio.Future[None]]]) -> None:
        """Wait until every submitted write landed; a write InfluxDB refused is counted."""
        for kind, future in landed:
            try:
                await future
            except SinkRejectedError as exc:
                self._rejected(kind, exc)

    async def _write(self, kind: str, lines: list[str]) -> None:
        await self._await_all(self._submit_all({kind: lines}))

    def _rejected(self, kind: str, exc: SinkRejectedError) -> None:
        # Invalid for InfluxDB (e.g. older than the bucket's retention): count, go on.
        self.counters.rejected_writes += 1
        logger.error("dropping %s points InfluxDB refused: %s", kind, exc)

    async def _dead_letter(self, source: str, value: bytes, exc: DecodeError) -> None:
        self.counters.dead_letters += 1
        logger.warning("dead-lettering a %s record: %s", source, exc)
        await self.publish_deadletter(source, exc.reason.value, exc.detail, value)

    async def status(self, value: bytes, *, ts_ns: int) -> None:
        try:
            status = decode(value, DeviceStatus)
        except DecodeError as exc:
            await self._dead_letter("status", value, exc)
            return
        self.counters.statuses += 1
        alerts: list[Alert] = []
        if self.liveness is not None:
            alerts = self.liveness.report(status, ts_ns)
        await self._write("pipeline", [status_line(status, ts_ns)])
        await self._write("events", [alert_line(a) for a in alerts])
        for alert in alerts:
            await self.publish_alert(alert.device, encode(alert))

    def partition_times(self, *lanes: Mapping[int, int | None]) -> dict[int, int]:
        """Up to when we know what each partition's devices sent, given each lane's high
        watermarks by partition (the next offset Kafka will assign): now, if every record up
        to them was handled; else the Kafka time of the last record handled, since what a
        device sent after that may be waiting in our lag (the earliest such time over the
        lanes). Partitions nothing is known of yet are left out."""
        now = self.clock()
        out: dict[int, int] = {}
        unknown: set[int] = set()
        for lane, highwaters in enumerate(lanes):
            for partition, high in highwaters.items():
                entry = self.overlay.get(position_key(lane, partition))
                handled = entry["o"] + 1 if entry is not None else 0
                if high is not None and handled >= high:
                    known = now
                elif entry is not None and "t" in entry:
                    known = min(now, int(entry["t"]))
                else:
                    unknown.add(partition)
                    continue
                out[partition] = min(out.get(partition, now), known)
        return {p: t for p, t in out.items() if p not in unknown}

    async def deadman(self, times: Mapping[int, int]) -> None:
        """Timer: open 'device silent' episodes for devices of our partitions, each judged
        at its partition's time (:meth:`partition_times`): a worker that lags behind its
        partition never calls the devices on it silent."""
        if self.liveness is None:
            return
        silent: list[Alert] = []
        for partition, at_ns in sorted(times.items()):
            devices = {d for d, p in self.partition_of.items() if p == partition}
            silent += self.liveness.check(at_ns, devices)
        if silent:
            await self._write("events", [alert_line(a) for a in silent])
            for alert in silent:
                await self.publish_alert(alert.device, encode(alert))

    async def report(self) -> None:
        """Timer: pipeline metrics into the pipeline bucket."""
        c = self.counters
        fields: dict[str, float | int] = {
            "records": c.records,
            "batches": c.batches,
            "replayed": c.replayed,
            "readings_fresh": c.readings_fresh,
            "duplicates": c.duplicates,
            "too_late": c.too_late,
            "dead_letters": c.dead_letters,
            "rejected_writes": c.rejected_writes,
            "alerts": c.alerts,
            "missing": sum(c.missing.values()),
            "write_retries": self.sink.retries,
            "write_requests": self.sink.requests,
            "points_written": self.sink.points_written,
            "refetched": c.refetched,
            "resumed": c.resumed,
            **_percentiles("latency", c.latencies_s or [0.0]),
            **_percentiles("edge_to_kafka", c.edge_to_kafka_s),
            **_percentiles("kafka_to_stored", c.kafka_to_stored_s),
            **_percentiles("backlog_kafka_to_stored", c.backlog_kafka_to_stored_s),
            **_percentiles("write", self.sink.write_seconds or [0.0]),
        }
        await self._write(
            "pipeline", [tagged("worker", {"worker": self.worker}, fields, self.clock())]
        )
