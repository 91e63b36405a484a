from __future__ import annotations

import pytest

from edge.clock import ManualClock
from edge.errors import SensorError
from edge.sampling import Sampler
from edge.sensors import Driver
from edge.settings import SensorConfig
from fieldlink.messages import Quality, ReadingKind

pytestmark = pytest.mark.unit


class Flaky(Driver):
    def __init__(self, config: SensorConfig) -> None:
        super().__init__(config)
        self.broken = False
        self.watcher = None

    def _raw(self) -> float:
        if self.broken:
            raise OSError("i2c bus timeout")
        return 2.0

    def watch(self, on_edge):  # type: ignore[no-untyped-def]
        self.watcher = on_edge


def config(name: str, hz: float = 1.0, **kw: object) -> SensorConfig:
    return SensorConfig(name=name, kind="plugin", plugin="x:y", hz=hz, unit="u", **kw)  # type: ignore[arg-type]


def test_each_sensor_at_its_own_rate_with_increasing_seqs() -> None:
    fast, slow = Flaky(config("fast", hz=4)), Flaky(config("slow", hz=1))
    sampler = Sampler([fast, slow], device="pi-07", clock=ManualClock(), first_seq=100, start_s=0)
    readings = [r for step in range(8) for r in sampler.sample(step * 0.25)]
    assert [r.sensor for r in readings].count("fast") == 8
    assert [r.sensor for r in readings].count("slow") == 2
    assert [r.seq for r in readings] == list(range(100, 110))


def test_a_failing_sensor_gives_bad_readings_and_one_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    flaky = Flaky(config("flaky"))
    sampler = Sampler([flaky], device="pi-07", clock=ManualClock(), first_seq=0, start_s=0)
    flaky.broken = True
    bad = [r for t in range(3) for r in sampler.sample(float(t))]
    assert all(r.value is None and r.quality == {Quality.BAD} for r in bad)
    assert sampler.sensor_errors == 3
    assert len([m for m in caplog.messages if "i2c bus timeout" in m]) == 1
    flaky.broken = False
    assert sampler.sample(3.0)[0].value == 2.0
    assert any("recovered" in m for m in caplog.messages)


def test_plugin_read_errors_become_sensor_errors() -> None:
    flaky = Flaky(config("flaky"))
    flaky.broken = True
    with pytest.raises(SensorError, match="flaky"):
        flaky.read()


def test_edges_become_event_readings() -> None:
    door = Flaky(config("door"))
    door.config = config("door")
    sampler = Sampler([], device="pi-07", clock=ManualClock(wall_ns=7), first_seq=0, start_s=0)
    sampler._on_edge(door, 1.0)
    sampler._on_edge(door, 0.0)
    events = sampler.sample(0.0)
    assert [(r.kind, r.value, r.ts_ns) for r in events] == [
        (ReadingKind.EVENT, 1.0, 7),
        (ReadingKind.EVENT, 0.0, 7),
    ]


def test_out_of_range_and_stuck_values_are_flagged() -> None:
    frozen = Flaky(config("frozen", hz=1, valid_range=(0.0, 1.0), stuck_after_s=3))
    sampler = Sampler([frozen], device="pi-07", clock=ManualClock(), first_seq=0, start_s=0)
    flags = [r.quality for t in range(6) for r in sampler.sample(float(t))]
    assert all(Quality.OUT_OF_RANGE in f for f in flags), "2.0 is outside [0, 1]"
    assert [Quality.STUCK in f for f in flags] == [False, False, False, True, True, True]
