"""What the Faust agents delegate to: decode, run the pure core, store, publish, commit.

Kept free of Faust so the order of effects is plain to read and test: the data of a record
is written to InfluxDB (awaited, retried) and its alerts published before its state changes
are committed to the tables, and the record is acked only after that.

Records are handled in two stages. *Prepare* runs the pure core, strictly in order, against
the table as seen through :class:`Overlay` (the table plus the staged updates of records
still in flight). *Finish* writes the record's points (these writes may overlap with the
next records' preparation and writes), then, strictly in order, publishes its alerts,
commits its state to the table and acks it. With ``depth`` 1 this is fully sequential.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
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

__all__ = ["Counters", "Handlers", "Overlay"]

logger = logging.getLogger(__name__)

Publish = Callable[[str, bytes], Awaitable[None]]
"""Send (key, value) to a Kafka topic and wait for the broker's ack."""

DeadLetter = Callable[[str, str, str, bytes], Awaitable[None]]
"""Send (source, reason, detail, raw value) to the dead-letter topic and wait for the ack."""

FetchRange = Callable[[int, int, int], Awaitable[list[tuple[int, bytes, int]]]]
"""Read telemetry records ``[start, end)`` of a partition: (offset, value, ts_ns)."""


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
        if self.staged.get(key) is value:
            del self.staged[key]

    def __delitem__(self, key: str) -> None:
        self.staged.pop(key, None)
        del self.base[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.base)

    def __len__(self) -> int:
        return len(self.base)


@dataclass
class _Prepared:
    write: Callable[[], Awaitable[None]]
    """Store the record's points: idempotent, may overlap with other records."""
    settle: Callable[[], Awaitable[None]]
    """Publish, commit state: strictly in record order, after ``write``."""


async def _nothing() -> None:
    return None


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
        depth: int = 1,
    ):
        self.settings = settings
        self.overlay = Overlay(store)
        self.processor = Processor(settings, self.overlay)
        self.depth = max(1, depth)
        self._in_flight: deque[asyncio.Future[None]] = deque()
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
        """Handle one record completely (sequentially)."""
        for prepared in await self._prepare_all(value, offset, partition, ts_ns):
            await prepared.write()
            await prepared.settle()

    async def submit(
        self,
        value: bytes,
        *,
        offset: int,
        partition: int,
        ts_ns: int,
        ack: Callable[[], Awaitable[Any]],
    ) -> None:
        """Prepare one record now and finish it in the background, ``depth`` records at most
        in flight; ``ack`` is awaited once the record is committed. Call :meth:`drain`
        before giving up the partitions."""
        for prepared in await self._prepare_all(value, offset, partition, ts_ns):
            while len(self._in_flight) >= self.depth:
                await self._in_flight.popleft()
            previous = self._in_flight[-1] if self._in_flight else None
            self._in_flight.append(asyncio.ensure_future(self._finish(prepared, previous)))
        last = self._in_flight[-1]
        self._in_flight[-1] = asyncio.ensure_future(self._then_ack(last, ack))

    async def drain(self) -> None:
        while self._in_flight:
            await self._in_flight.popleft()

    async def _finish(self, prepared: _Prepared, previous: asyncio.Future[None] | None) -> None:
        await prepared.write()
        if previous is not None:
            await previous
        await prepared.settle()

    async def _then_ack(
        self, finished: asyncio.Future[None], ack: Callable[[], Awaitable[Any]]
    ) -> None:
        await finished
        await ack()

    async def _prepare_all(
        self, value: bytes, offset: int, partition: int, ts_ns: int
    ) -> list[_Prepared]:
        """Prepare a record, and first any the consumer skipped. If Faust hands us an offset
        beyond the next one we expect for the partition, the records in between were acked
        without being delivered (faust-streaming does that around rebalances)."""
        out = []
        last = self.overlay.get(f"p|{partition}")
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
                out.append(self._prepare(missed_value, missed_offset, partition, missed_ts_ns))
        out.append(self._prepare(value, offset, partition, ts_ns))
        return out

    def _prepare(self, value: bytes, offset: int, partition: int, ts_ns: int) -> _Prepared:
        started = time.perf_counter()
        self.counters.records += 1
        position = self._stage_position(partition, offset)
        try:
            batch = decode(value, ReadingBatch)
        except DecodeError as exc:
            error = exc

            async def dead_letter() -> None:
                await self._dead_letter("telemetry", value, error)
                self._commit_position(position)

            return _Prepared(_nothing, dead_letter)
        self.partition_of[batch.device] = partition
        outcome = self.processor.process(batch, now_ns=self.clock(), offset=offset)
        if outcome.replayed:
            self.counters.replayed += 1

            async def replayed() -> None:
                self._commit_position(position)

            return _Prepared(_nothing, replayed)
        for key, staged in outcome.updates:
            self.overlay.stage(key, staged)
        alerts = list(outcome.alerts)
        if self.liveness is not None:
            alerts += self.liveness.seen(batch.device, batch.site, ts_ns)

        async def write() -> None:
            await self._store(outcome, alerts, ts_ns)

        async def settle() -> None:
            await self._store_aggregates(outcome)
            for alert in alerts:
                await self.publish_alert(alert.device, encode(alert))
            self.processor.commit(outcome)
            self._commit_position(position)
            c = self.counters
            c.readings_fresh += len(outcome.raw)
            c.duplicates += outcome.duplicates
            c.too_late += outcome.too_late
            c.alerts += len(alerts)
            c.missing[batch.device] = outcome.missing
            c.latencies_s.append(time.perf_counter() - started)
            del c.latencies_s[:-5000]

        return _Prepared(write, settle)

    def _stage_position(self, partition: int, offset: int) -> tuple[str, Any] | None:
        """Stage the partition's last handled offset (committed after everything else)."""
        key = f"p|{partition}"
        last = self.overlay.get(key)
        if last is not None and offset <= last["o"]:
            return None
        entry = {"o": offset}
        self.overlay.stage(key, entry)
        return key, entry

    def _commit_position(self, position: tuple[str, Any] | None) -> None:
        if position is not None:
            self.overlay[position[0]] = position[1]

    async def _store(self, outcome: Outcome, alerts: list[Alert], seen_ns: int) -> None:
        """Points that are the same whichever record writes them: may overlap."""
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
        await self._write_all(writes)

    async def _store_aggregates(self, outcome: Outcome) -> None:
        """A window's statistics after this record: written in record order, so an older
        snapshot never lands after a newer one."""
        writes: dict[str, list[str]] = {}
        for agg in outcome.aggregates:
            writes.setdefault(bucket_for_width(agg.width_s), []).append(aggregate_line(agg))
        await self._write_all(writes)

    async def _write_all(self, writes: dict[str, list[str]]) -> None:
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
            alerts = self.liveness.report(status, ts_ns)
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
