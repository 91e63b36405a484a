"""Handlers.batch: a batch of records commits only each key's final value; a crash after any
prefix of that commit, then a replay of the batch, gives exactly the state of a clean run -
also when the records come on both telemetry lanes and the replay interleaves the lanes in
another order (the interrupted batch is resumed first, in its own order)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloud.handlers import Handlers, Record
from fieldlink.messages import ReadingBatch, encode

from .processing.streams import scrambled, streams
from .processing.test_pipeline import NOW, SETTINGS, same_stats

pytestmark = pytest.mark.unit


class _CrashError(Exception):
    pass


class _Store(dict[str, Any]):
    """A table that fails after ``allowed`` more writes (None: never)."""

    allowed: int | None = None

    def __setitem__(self, key: str, value: Any) -> None:
        if self.allowed is not None:
            if self.allowed == 0:
                raise _CrashError
            self.allowed -= 1
        super().__setitem__(key, value)


class _Sink:
    """Lands every write at once and keeps the lines."""

    retries = requests = points_written = 0

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []
        self.write_seconds: list[float] = []

    def submit(self, kind: str, lines: list[str], *, flush: bool = True) -> asyncio.Future[None]:
        self.lines += [(kind, line) for line in lines]
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future

    async def write(self, kind: str, lines: list[str]) -> None:
        await self.submit(kind, lines)

    def flush(self) -> None:
        pass


async def _publish(*_: object) -> None:
    return None


def _handlers(store: dict[str, Any], sink: _Sink, records: Sequence[Record] = ()) -> Handlers:
    async def fetch_range(lane: int, partition: int, start: int, end: int) -> list[Any]:
        return [
            (r.offset, r.value, r.ts_ns)
            for r in records
            if (r.lane, r.partition) == (lane, partition) and start <= r.offset < end
        ]

    return Handlers(
        SETTINGS,
        store=store,
        sink=sink,  # type: ignore[arg-type]
        publish_alert=_publish,
        publish_deadletter=_publish,
        clock=lambda: NOW,
        fetch_range=fetch_range,
    )


def _records(batches: list[ReadingBatch], lanes: list[int]) -> list[Record]:
    next_offset = [0, 0]
    records = []
    for batch, lane in zip(batches, lanes, strict=True):
        records.append(Record(encode(batch), next_offset[lane], 0, NOW, lane))
        next_offset[lane] += 1
    return records


def _groups(records: list[Record], sizes: list[int]) -> list[list[Record]]:
    groups, start = [], 0
    for size in sizes:
        if start < len(records):
            groups.append(records[start : start + size])
            start += size
    if start < len(records):
        groups.append(records[start:])
    return groups


def _windows(store: dict[str, Any]) -> dict[str, Any]:
    return {k: v["s"] for k, v in store.items() if k.startswith("w|")}


@settings(max_examples=120, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.data())
def test_crash_after_any_prefix_of_a_batch_commit_replays_exactly_once(data: st.DataObject):
    readings = data.draw(streams(max_size=40))
    batches = data.draw(scrambled(readings))
    sizes = data.draw(st.lists(st.integers(min_value=1, max_value=6), min_size=1, max_size=10))
    n = len(batches)
    lanes = data.draw(st.lists(st.sampled_from((0, 1)), min_size=n, max_size=n))
    records = _records(batches, lanes)
    groups = _groups(records, sizes)

    async def scenario() -> tuple[dict[str, Any], dict[str, Any], set[str], int]:
        reference: dict[str, Any] = {}
        clean = _handlers(reference, _Sink(), records)
        for group in groups:
            await clean.batch(group)

        crash_at = data.draw(st.integers(min_value=0, max_value=len(groups) - 1))
        store, sink = _Store(), _Sink()
        handlers = _handlers(store, sink, records)
        index = 0
        while index < len(groups):
            group = groups[index]
            if index == crash_at:
                store.allowed = data.draw(st.integers(min_value=0, max_value=60))
                with contextlib.suppress(_CrashError):
                    await handlers.batch(group)
                store.allowed = None
                # The worker died: a new one starts from what the table kept and the batch
                # is delivered again (it was never acked) together with the next records,
                # each lane in its order but the lanes interleaved anew (the other lane's
                # new records may come first).
                handlers = _handlers(store, sink, records)
                if index + 1 < len(groups):
                    index += 1
                    group = group + groups[index]
                by_lane = [[r for r in group if r.lane == lane] for lane in (0, 1)]
                mix = data.draw(st.permutations([r.lane for r in group]))
                group = [by_lane[lane].pop(0) for lane in mix]
            await handlers.batch(group)
            index += 1
        raw = {line for kind, line in sink.lines if kind == "raw"}
        return reference, dict(store), raw, handlers.counters.duplicates

    reference, state, raw, _ = asyncio.run(scenario())
    assert _windows(state).keys() == _windows(reference).keys()
    assert all(same_stats(_windows(state)[k], v) for k, v in _windows(reference).items())
    dedup = {k: v for k, v in state.items() if k.startswith("d|")}
    assert {k: v["c"] for k, v in dedup.items()} == {
        k: v["c"] for k, v in reference.items() if k.startswith("d|")
    }
    assert state["i|0"] is None, "the last batch's order was cleared"
    # Every reading reached the raw bucket (a rewrite of the same point is idempotent).
    assert {int(line.split("seq=")[1].split("i")[0]) for line in raw} == {r.seq for r in readings}
