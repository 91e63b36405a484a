"""Readings sampled before clock sync are flagged, held back, and re-stamped once it syncs."""

from __future__ import annotations

import pytest

from edge.buffer import MemoryBuffer
from edge.clock import ManualClock, SyncTracker, SystemClock, kernel_clock_synced
from edge.sampling import Sampler
from edge.sensors import Driver
from edge.settings import SensorConfig
from fieldlink.messages import Quality

pytestmark = pytest.mark.unit

BOOTED_AT_NS = 5 * 10**9  # the monotonic clock starts near zero at boot
REAL_NOW_NS = 1_763_700_000 * 10**9


class Constant(Driver):
    def _raw(self) -> float:
        return 1.5


def test_kernel_state_is_readable() -> None:
    assert isinstance(kernel_clock_synced(), bool)
    assert isinstance(SystemClock().synced(), bool)


def test_tracker_reports_the_offset_once() -> None:
    clock = ManualClock(wall_ns=0, mono_ns=BOOTED_AT_NS, synced=False)
    tracker = SyncTracker(clock)
    assert tracker.poll() is None
    clock.set(wall_ns=REAL_NOW_NS, synced=True)
    assert tracker.poll() == REAL_NOW_NS - BOOTED_AT_NS
    assert tracker.poll() is None
    assert SyncTracker(clock).poll() is None, "synced from the start: nothing to re-stamp"


def test_unsynced_readings_are_restamped_from_the_monotonic_offset() -> None:
    clock = ManualClock(wall_ns=BOOTED_AT_NS, mono_ns=BOOTED_AT_NS, synced=False)  # "1970"
    buffer = MemoryBuffer(device="pi-07")
    driver = Constant(SensorConfig(name="t", kind="plugin", plugin="x:y"))
    sampler = Sampler([driver], device="pi-07", clock=clock, first_seq=0, start_s=0.0)
    tracker = SyncTracker(clock)
    for step in range(3):
        buffer.append(sampler.sample(float(step)))
        clock.advance(1.0)
    buffer.commit()
    held = buffer.stats()
    assert (held.depth, held.unsynced) == (3, 3)
    assert buffer.take(10) == [], "nothing is published with a 1970 timestamp"

    clock.set(wall_ns=REAL_NOW_NS, synced=True)  # NTP steps the clock
    offset = tracker.poll()
    assert offset is not None
    assert buffer.restamp(offset) == 3
    buffer.commit()
    restamped = [item.reading for item in buffer.take(10)]
    sampled_at_mono = [BOOTED_AT_NS + i * 10**9 for i in range(3)]
    now_mono = BOOTED_AT_NS + 3 * 10**9
    assert [r.ts_ns for r in restamped] == [REAL_NOW_NS - (now_mono - m) for m in sampled_at_mono]
    assert all(r.quality == {Quality.RESTAMPED} and not r.clock_synced for r in restamped)

    buffer.append(sampler.sample(3.0))
    buffer.commit()
    fresh = buffer.take(10)[-1].reading
    assert (fresh.ts_ns, fresh.quality, fresh.clock_synced) == (REAL_NOW_NS, frozenset(), True)
