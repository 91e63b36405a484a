"""What the Faust agents delegate to: decode, run the pure core, store, publish, commit.

Kept free of Faust so the order of effects is plain to read and test: the data of a record
is written to InfluxDB (awaited, retried) and its alerts published before its state changes
are committed to the tables, and the record is acked by Faust only after this returns.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

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

__all__ = ["Counters", "Handlers"]

logger = logging.getLogger(__name__)

Publish = Callable[[str, bytes], Awaitable[None]]
"""Send (key, value) to a Kafka topic and wait for the broker's ack."""

DeadLetter = Callable[[str, str, str, bytes], Awaitable[None]]
"""Send (source, reason, detail, raw value) to the dead-letter topic and wait for the ack."""

FetchRange = Callable[[int, int, int], Awaitable[list[tuple[int, bytes, int]]]]
"""Read telemetry records ``[start, end)`` of a partition: (offset, value, ts_ns)."""


@dataclass
class Counters:
    records: int = 0
    replayed: int = 0
    readings_fresh: int = 0
    duplicates: int = 0
    too_late: int = 0
    dead_letters: int = 0
    rejected_writes: int = 0
    alerts: int = 0
    statuses: int = 0
    refetched: int = 0
    missing: dict[str, int] = field(default_factory=dict)
    latencies_s: list[float] = field(default_factory=list)


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
        self.processor = Processor(settings, store)
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

    async def telemetry(self, value: bytes, *, offset: int, partition: int, ts_ns: int) -> None:
        """One telemetry record. If Faust hands us an offset beyond the next one we expect
        for the partition, the records in between were skipped (faust-streaming can ack
        records it never delivered around a rebalance): fetch and process them first."""
        last = self.processor.store.get(f"p|{partition}")
        expected = last["o"] + 1 if last is not None else 0  # 0: from the partition's start
        if offset > expected and self.fetch_range is not None:
            missed = await self.fetch_range(partition, expected, offset)
            self.counters.refetched += len(missed)
            if missed:
                logger.warning(
                    "partition %d: offsets %d-%d were never delivered; fetched %d records",
                    partition, missed[0][0], offset - 1, len(missed),
                )  # fmt: skip
            for missed_offset, missed_value, missed_ts_ns in missed:
                await self._telemetry(
                    missed_value, offset=missed_offset, partition=partition, ts_ns=missed_ts_ns
                )
        await self._telemetry(value, offset=offset, partition=partition, ts_ns=ts_ns)

    async def _telemetry(self, value: bytes, *, offset: int, partition: int, ts_ns: int) -> None:
        started = time.perf_counter()
        self.counters.records += 1
        try:
            batch = decode(value, ReadingBatch)
        except DecodeError as exc:
            await self._dead_letter("telemetry", value, exc)
            self._advance(partition, offset)
            return
        self.partition_of[batch.device] = partition
        outcome = self.processor.process(batch, now_ns=self.clock(), offset=offset)
        if outcome.replayed:
            self.counters.replayed += 1
            self._advance(partition, offset)
            return
        alerts = list(outcome.alerts)
        if self.liveness is not None:
            alerts += self.liveness.seen(batch.device, batch.site, ts_ns)
        await self._store(outcome, alerts, ts_ns)
        for alert in alerts:
            await self.publish_alert(alert.device, encode(alert))
        self.processor.commit(outcome)
        self._advance(partition, offset)
        c = self.counters
        c.readings_fresh += len(outcome.raw)
        c.duplicates += outcome.duplicates
        c.too_late += outcome.too_late
        c.alerts += len(alerts)
        c.missing[batch.device] = outcome.missing
        c.latencies_s.append(time.perf_counter() - started)
        del c.latencies_s[:-5000]

    def _advance(self, partition: int, offset: int) -> None:
        """Remember the highest offset of the partition fully handled (written last)."""
        key = f"p|{partition}"
        last = self.processor.store.get(key)
        if last is None or offset > last["o"]:
            self.processor.store[key] = {"o": offset}

    async def _store(self, outcome: Outcome, alerts: list[Alert], seen_ns: int) -> None:
        writes: dict[str, list[str]] = {"raw": [reading_line(r, outcome.site) for r in outcome.raw]}
        for agg in outcome.aggregates:
            writes.setdefault(bucket_for_width(agg.width_s), []).append(aggregate_line(agg))
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
        results = await asyncio.gather(
            *(self._write(kind, lines) for kind, lines in writes.items()), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _write(self, kind: str, lines: list[str]) -> None:
        try:
            await self.sink.write(kind, lines)
        except SinkRejectedError as exc:
            # Invalid for InfluxDB (e.g. older than the bucket's retention): count, go on.
            self.counters.rejected_writes += 1
            logger.error("dropping %d points InfluxDB refused: %s", len(lines), exc)  # noqa: TRY400 - expected, no traceback wanted

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
            self.liveness.status(status.device, status.site, backlog=status.buffer_depth)
            alerts = self.liveness.seen(status.device, status.site, ts_ns)
        await self._write("pipeline", [status_line(status, ts_ns)])
        await self._write("events", [alert_line(a) for a in alerts])
        for alert in alerts:
            await self.publish_alert(alert.device, encode(alert))

    async def deadman(self, assigned: set[int]) -> None:
        """Timer: open 'device silent' episodes for devices of our partitions."""
        if self.liveness is None:
            return
        mine = {d for d, p in self.partition_of.items() if p in assigned}
        silent = [a for a in self.liveness.check(self.clock()) if a.device in mine]
        if silent:
            await self._write("events", [alert_line(a) for a in silent])
            for alert in silent:
                await self.publish_alert(alert.device, encode(alert))

    async def report(self) -> None:
        """Timer: pipeline metrics into the pipeline bucket."""
        c = self.counters
        lat = sorted(c.latencies_s) or [0.0]
        writes = sorted(self.sink.write_seconds) or [0.0]
        fields: dict[str, float | int] = {
            "records": c.records,
            "replayed": c.replayed,
            "readings_fresh": c.readings_fresh,
            "duplicates": c.duplicates,
            "too_late": c.too_late,
            "dead_letters": c.dead_letters,
            "rejected_writes": c.rejected_writes,
            "alerts": c.alerts,
            "missing": sum(c.missing.values()),
            "write_retries": self.sink.retries,
            "refetched": c.refetched,
            "latency_p50_s": lat[len(lat) // 2],
            "latency_p99_s": lat[int(len(lat) * 0.99)],
            "write_p50_s": writes[len(writes) // 2],
            "write_p99_s": writes[int(len(writes) * 0.99)],
        }
        await self._write(
            "pipeline", [tagged("worker", {"worker": self.worker}, fields, self.clock())]
        )
