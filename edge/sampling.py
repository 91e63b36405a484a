"""Turning sensor reads into readings: schedules, seqs, clock flags, failures.

The :class:`Sampler` owns the seq counter (starting at the buffer's persisted next seq) and
stamps every reading with wall and monotonic time. A failing sensor gives a reading with
``value=None`` and quality ``{bad}`` and one log line when it starts and stops failing; the
agent keeps going.
"""

from __future__ import annotations

import functools
import logging
import queue
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fieldlink.messages import Quality, Reading, ReadingKind

from .clock import Clock
from .errors import SensorError
from .sensors import Driver

__all__ = ["Sampler", "Schedule"]

logger = logging.getLogger(__name__)

_COALESCE_S = 0.005
"""Sensors due within 5 ms of each other are read in the same wake-up (fewer wake-ups)."""


@dataclass(slots=True)
class Schedule:
    """When one sensor is next due, in monotonic seconds."""

    driver: Driver
    period_s: float
    due_s: float
    failing: bool = False
    last_value: float | None = None
    unchanged_since_s: float = 0.0


class Sampler:
    """Samples due sensors and collects edge events into readings with fresh seqs.

    ``before_read`` is called with each driver and the seconds since start just before it is
    read: the simulator uses it to set the mock hardware to the waveform.
    """

    def __init__(
        self,
        drivers: Sequence[Driver],
        *,
        device: str,
        clock: Clock,
        first_seq: int,
        start_s: float,
        before_read: Callable[[Driver, float], None] | None = None,
    ) -> None:
        self._device = device
        self._clock = clock
        self._next_seq = first_seq
        self._start_s = start_s
        self._before_read = before_read
        self._schedules = {d.name: Schedule(d, 1 / d.config.hz, start_s) for d in drivers}
        self._edges: queue.SimpleQueue[tuple[Driver, float, int, int]] = queue.SimpleQueue()
        self.sensor_errors = 0
        for driver in drivers:
            if driver.config.digital:
                driver.watch(functools.partial(self._on_edge, driver))

    def _on_edge(self, driver: Driver, value: float) -> None:
        # Called from gpiozero's threads (or the simulator's): stamp now, build later.
        self._edges.put((driver, value, self._clock.wall_ns(), self._clock.mono_ns()))

    def set_rate(self, sensor: str, hz: float) -> bool:
        schedule = self._schedules.get(sensor)
        if schedule is None:
            return False
        schedule.period_s = 1 / hz
        return True

    def rate_hz(self, sensor: str) -> float:
        return 1 / self._schedules[sensor].period_s

    def next_due_s(self) -> float:
        return min((s.due_s for s in self._schedules.values()), default=float("inf"))

    def _reading(
        self,
        driver: Driver,
        value: float | None,
        wall_ns: int,
        mono_ns: int,
        kind: ReadingKind,
        flags: frozenset[Quality] = frozenset(),
    ) -> Reading:
        synced = self._clock.synced()
        quality: set[Quality] = set(flags)
        if value is None:
            quality.add(Quality.BAD)
        if not synced:
            quality.add(Quality.CLOCK_UNSYNCED)
        reading = Reading(
            device=self._device,
            sensor=driver.name,
            value=value,
            unit=driver.config.unit,
            ts_ns=wall_ns,
            mono_ns=mono_ns,
            seq=self._next_seq,
            kind=kind,
            quality=frozenset(quality),
            clock_synced=synced,
        )
        self._next_seq += 1
        return reading

    def sample(self, now_s: float) -> list[Reading]:
        """Readings of every sensor due at ``now_s`` plus the edges seen since last time."""
        readings: list[Reading] = []
        while True:
            try:
                driver, value, wall_ns, mono_ns = self._edges.get_nowait()
            except queue.Empty:
                break
            readings.append(self._reading(driver, value, wall_ns, mono_ns, ReadingKind.EVENT))
        horizon = now_s + _COALESCE_S
        for schedule in self._schedules.values():
            if schedule.due_s > horizon:
                continue
            # Skip missed slots instead of bursting after a stall.
            missed = max(0, int((now_s - schedule.due_s) / schedule.period_s))
            schedule.due_s += (missed + 1) * schedule.period_s
            readings.append(self._read(schedule, now_s))
        readings.sort(key=lambda r: r.seq)
        return readings

    def _read(self, schedule: Schedule, now_s: float) -> Reading:
        driver = schedule.driver
        if self._before_read is not None:
            self._before_read(driver, now_s - self._start_s)
        wall_ns, mono_ns = self._clock.wall_ns(), self._clock.mono_ns()
        try:
            value: float | None = driver.read()
        except SensorError as exc:
            value = None
            self.sensor_errors += 1
            if not schedule.failing:
                logger.warning("%s; flagging its readings bad until it recovers", exc)
            schedule.failing = True
        else:
            if schedule.failing:
                logger.warning("sensor %r recovered", driver.name)
            schedule.failing = False
        return self._reading(
            driver, value, wall_ns, mono_ns, ReadingKind.SAMPLE, judge(schedule, value, now_s)
        )


def judge(schedule: Schedule, value: float | None, now_s: float) -> frozenset[Quality]:
    """Quality flags a good value earns from its sensor's history and range."""
    if value is None:
        return frozenset()
    config = schedule.driver.config
    flags: set[Quality] = set()
    if (
        config.valid_range is not None
        and not config.valid_range[0] <= value <= config.valid_range[1]
    ):
        flags.add(Quality.OUT_OF_RANGE)
    if value != schedule.last_value:
        schedule.last_value = value
        schedule.unchanged_since_s = now_s
    elif (
        config.stuck_after_s is not None
        and now_s - schedule.unchanged_since_s >= config.stuck_after_s
    ):
        flags.add(Quality.STUCK)
    return frozenset(flags)
