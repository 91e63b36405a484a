"""The deadman judges each partition at the time up to which the worker has read it: a worker
lagging behind its partition (a saturated pipeline, a catch-up) never calls devices silent."""

from __future__ import annotations

import asyncio

import pytest

from cloud.handlers import Handlers, Record
from cloud.settings import CloudSettings
from fieldlink.messages import Alert, Reading, ReadingBatch, decode, encode

from .test_batches import _Sink

pytestmark = pytest.mark.unit

S = 1_000_000_000
SETTINGS = CloudSettings.load(
    window_widths_s=(60,),
    alerts={"rules": [{"kind": "deadman", "name": "deadman", "silent_s": 10}]},
)


def _record(offset: int, kafka_ts_ns: int, lane: int = 0) -> Record:
    seq = offset + 1000 * lane
    reading = Reading(device="pi", sensor="temp", value=20.0, ts_ns=kafka_ts_ns, seq=seq)
    batch = ReadingBatch(
        device="pi", site="lab", boot_id="ab" * 16, seq_first=seq, seq_last=seq,
        readings=(reading,),
    )  # fmt: skip
    return Record(encode(batch), offset, 0, kafka_ts_ns, lane)


def test_a_lagging_partition_is_judged_at_the_time_of_its_last_handled_record() -> None:
    now = [100 * S]
    published: list[Alert] = []

    async def publish(key: str, value: bytes) -> None:
        published.append(decode(value, Alert))

    async def nothing(*_: object) -> None:
        return None

    async def scenario() -> None:
        handlers = Handlers(
            SETTINGS, store={}, sink=_Sink(),  # type: ignore[arg-type]
            publish_alert=publish, publish_deadletter=nothing, clock=lambda: now[0],
        )  # fmt: skip
        await handlers.batch([_record(0, 100 * S)])
        now[0] = 200 * S
        # Four more records of partition 0 wait in Kafka: what pi sent is not known yet.
        times = handlers.partition_times({0: 5, 1: None})
        assert times == {0: 100 * S}
        await handlers.deadman(times)
        assert published == []
        # The worker catches up on a record pi sent at 195 s: pi is alive.
        await handlers.batch([_record(1, 195 * S)])
        await handlers.deadman(handlers.partition_times({0: 2}))
        assert published == []
        # Caught up and nothing new: now pi has been silent for 10 s.
        now[0] = 206 * S
        assert handlers.partition_times({0: 2, 1: 0}) == {0: 206 * S, 1: 206 * S}
        # Unless a backlog lane still holds records of the partition: then pi is not judged
        # before one of them is handled, and then at that record's Kafka time.
        assert handlers.partition_times({0: 2}, {0: 3}) == {}
        await handlers.batch([_record(0, 190 * S, lane=1)])
        assert handlers.partition_times({0: 2}, {0: 3}) == {0: 190 * S}
        assert handlers.partition_times({0: 2}, {0: 1}) == {0: 206 * S}
        await handlers.deadman(handlers.partition_times({0: 2}))
        assert [(a.device, a.state.value) for a in published] == [("pi", "open")]

    asyncio.run(scenario())
