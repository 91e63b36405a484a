"""Batching, the in-flight window, ack-then-delete and the drain, over a recording link.

The link here is a stand-in that records what would be sent: these are unit tests of the
publisher's bookkeeping; the real broker is exercised in tests/edge/test_agent.py.
"""

from __future__ import annotations

import pytest

from edge.buffer import MemoryBuffer
from edge.publish import Ack, Publisher
from edge.settings import PublishSettings
from fieldlink.messages import Reading, ReadingBatch, decode

pytestmark = pytest.mark.unit

DEVICE = "pi-07"


class RecordingLink:
    def __init__(self) -> None:
        self.connected = True
        self.connects = 1
        self.sent: list[tuple[int, ReadingBatch]] = []
        self._mid = 0

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> int:
        assert topic == f"fieldlink/lab/{DEVICE}/telemetry"
        self._mid += 1
        self.sent.append((self._mid, decode(payload, ReadingBatch)))
        return self._mid


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def readings(first: int, count: int) -> list[Reading]:
    return [
        Reading(device=DEVICE, sensor="t", value=1.0, ts_ns=10**18 + s, seq=s)
        for s in range(first, first + count)
    ]


def make(buffer: MemoryBuffer, **settings: float) -> tuple[Publisher, RecordingLink, Clock]:
    link, clock = RecordingLink(), Clock()
    publisher = Publisher(
        buffer,
        link,
        site="lab",
        settings=PublishSettings(**settings),
        monotonic=clock,  # type: ignore[arg-type]
    )
    return publisher, link, clock


def ack_all(publisher: Publisher, link: RecordingLink) -> None:
    for mid, _ in link.sent:
        publisher.handle_ack(Ack(mid, True, "Success"))


def test_live_batches_fill_up_or_linger() -> None:
    buffer = MemoryBuffer(device=DEVICE)
    publisher, link, clock = make(buffer, batch_size=10, linger_ms=100)
    publisher.pump()  # first connection seen: nothing buffered yet
    buffer.append(readings(0, 25))
    buffer.commit()
    publisher.pump()
    assert [len(b.readings) for _, b in link.sent] == [10, 10]
    clock.now += 0.05
    publisher.pump()
    assert len(link.sent) == 2, "five readings wait for the linger time"
    clock.now += 0.06
    publisher.pump()
    assert [b.seq_first for _, b in link.sent] == [0, 10, 20]
    assert link.sent[2][1].boot_id == buffer.boot_id


def test_readings_leave_the_buffer_only_after_their_puback() -> None:
    buffer = MemoryBuffer(device=DEVICE)
    publisher, link, _clock = make(buffer, batch_size=5, linger_ms=0)
    publisher.pump()
    buffer.append(readings(0, 10))
    buffer.commit()
    publisher.pump()
    assert buffer.stats().depth == 10
    publisher.handle_ack(Ack(link.sent[1][0], True, "Success"))
    assert [i.reading.seq for i in buffer.take(100)] == [0, 1, 2, 3, 4]
    publisher.handle_ack(Ack(link.sent[0][0], True, "Success"))
    assert buffer.stats().depth == 0


def test_the_inflight_window_bounds_unacknowledged_messages() -> None:
    buffer = MemoryBuffer(device=DEVICE)
    publisher, link, _clock = make(buffer, batch_size=10, inflight=3, linger_ms=0)
    publisher.pump()
    buffer.append(readings(0, 100))
    buffer.commit()
    publisher.pump()
    assert len(link.sent) == 3
    publisher.handle_ack(Ack(link.sent[0][0], True, "Success"))
    publisher.pump()
    assert len(link.sent) == 4
    assert publisher.inflight_messages == 3


def test_a_refused_batch_is_sent_again() -> None:
    buffer = MemoryBuffer(device=DEVICE)
    publisher, link, clock = make(buffer, batch_size=10, linger_ms=0, drain_max_rate=1e6)
    publisher.pump()
    buffer.append(readings(0, 10))
    buffer.commit()
    publisher.pump()
    publisher.handle_ack(Ack(link.sent[0][0], False, "Not authorized"))
    assert publisher.rejected_messages == 1
    clock.now += 1
    publisher.pump()
    assert [b.seq_first for _, b in link.sent] == [0, 0]


def test_backlog_drains_oldest_first_at_the_max_rate_interleaved_with_live() -> None:
    buffer = MemoryBuffer(device=DEVICE)
    buffer.append(readings(0, 1_000))  # piled up while partitioned
    buffer.commit()
    publisher, link, clock = make(
        buffer, batch_size=50, linger_ms=0, drain_max_rate=500, inflight=1000
    )
    publisher.pump()
    assert link.sent == [], "the bucket starts empty"
    live_seq = 1_000
    for _ in range(10):  # one second in 100 ms steps, 10 live readings per step
        clock.now += 0.1
        buffer.append(readings(live_seq, 10))
        buffer.commit()
        live_seq += 10
        publisher.pump()
    backlog = [b for _, b in link.sent if b.seq_first < 1_000]
    live = [b for _, b in link.sent if b.seq_first >= 1_000]
    assert sum(len(b.readings) for b in backlog) == 500, "one second at 500 readings/s"
    assert [b.seq_first for b in backlog] == sorted(b.seq_first for b in backlog)
    assert backlog[0].seq_first == 0
    assert sum(len(b.readings) for b in live) == 100, "live readings never wait for the backlog"
    assert all(b.backlog for b in backlog), "backlog batches say so: the bridge's lane"
    assert not any(b.backlog for b in live)
    for _ in range(20):  # the remaining 500 backlog readings need one more second
        ack_all(publisher, link)
        clock.now += 0.1
        publisher.pump()
    ack_all(publisher, link)
    assert publisher.backlog_done
    assert buffer.stats().depth == 0


def test_a_capped_drain_sends_full_batches() -> None:
    buffer = MemoryBuffer(device=DEVICE)
    buffer.append(readings(0, 1_000))
    buffer.commit()
    publisher, link, clock = make(
        buffer, batch_size=200, linger_ms=200, drain_max_rate=300, inflight=1000
    )
    for _ in range(100):  # ten seconds in 100 ms steps
        clock.now += 0.1
        publisher.pump()
        ack_all(publisher, link)
    sizes = [len(b.readings) for _, b in link.sent]
    # Not a 60-reading batch every linger (200 ms at 300/s): full ones, every 2/3 s.
    assert sizes == [200] * 5
    assert publisher.backlog_done or buffer.stats().depth == 0


def test_a_reconnect_turns_unsent_readings_into_backlog_and_skips_those_in_flight() -> None:
    buffer = MemoryBuffer(device=DEVICE)
    publisher, link, clock = make(buffer, batch_size=10, linger_ms=0, drain_max_rate=1e6)
    publisher.pump()
    buffer.append(readings(0, 10))
    buffer.commit()
    publisher.pump()
    link.connected = False
    buffer.append(readings(10, 20))
    buffer.commit()
    publisher.pump()
    assert len(link.sent) == 1
    link.connected, link.connects = True, 2
    for _ in range(5):
        clock.now += 1
        publisher.pump()
    seqs = [r.seq for _, b in link.sent for r in b.readings]
    assert sorted(seqs) == list(range(30)), "in-flight readings are not sent twice"


def test_batches_never_mix_boot_ids(tmp_path: object) -> None:
    from edge.buffer import BufferedReading
    from edge.publish import split_by_boot

    a, b = "a" * 32, "b" * 32
    items = [
        BufferedReading(boot, r, 1) for boot, r in zip([a, a, b, b, a], readings(0, 5), strict=True)
    ]
    assert [[i.reading.seq for i in run] for run in split_by_boot(items)] == [[0, 1], [2, 3], [4]]
