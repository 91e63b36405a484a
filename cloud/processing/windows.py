"""Tumbling event-time windows with mergeable statistics.

A window is ``[start, start + width)`` in event time (``ts_ns``), per device and sensor.
Statistics merge with Chan's parallel update of Welford's mean and M2, so a window can absorb
readings in any order and late readings simply merge in. ``last`` is the value with the
greatest ``(ts_ns, seq)``, which does not depend on arrival order either. The standard
deviation is the population one, ``sqrt(M2 / count)``.

>>> stats = WindowStats.empty()
>>> stats.merge(WindowStats.of_values([1.0, 2.0], last_ts_ns=1, last_seq=1, last=2.0))
>>> stats.merge(WindowStats.of_values([3.0], last_ts_ns=2, last_seq=2, last=3.0))
>>> stats.count, stats.mean, stats.minimum, stats.maximum, stats.last
(3, 2.0, 1.0, 3.0, 3.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["WindowAggregate", "WindowStats", "window_start"]

_NS = 1_000_000_000


def window_start(ts_ns: int, width_s: int) -> int:
    """Start (ns) of the tumbling window of ``width_s`` seconds holding ``ts_ns``."""
    width = width_s * _NS
    return ts_ns - ts_ns % width


@dataclass(slots=True)
class WindowStats:
    count: int
    mean: float
    m2: float
    minimum: float
    maximum: float
    last_ts_ns: int
    last_seq: int
    last: float

    @classmethod
    def empty(cls) -> WindowStats:
        return cls(0, 0.0, 0.0, math.inf, -math.inf, -1, -1, math.nan)

    @classmethod
    def of_values(
        cls, values: list[float], last_ts_ns: int, last_seq: int, last: float
    ) -> WindowStats:
        """Statistics of a non-empty group of readings; ``last_*`` describe the group's
        reading with the greatest ``(ts_ns, seq)``."""
        count = len(values)
        mean = math.fsum(values) / count
        m2 = math.fsum([(x - mean) * (x - mean) for x in values])
        return cls(count, mean, m2, min(values), max(values), last_ts_ns, last_seq, last)

    def merge(self, other: WindowStats) -> None:
        """Chan et al.: combine two disjoint sets of readings."""
        if other.count == 0:
            return
        if self.count == 0:
            for name in self.__slots__:
                setattr(self, name, getattr(other, name))
            return
        total = self.count + other.count
        delta = other.mean - self.mean
        self.mean += delta * other.count / total
        self.m2 += other.m2 + delta * delta * self.count * other.count / total
        self.count = total
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)
        if (other.last_ts_ns, other.last_seq) > (self.last_ts_ns, self.last_seq):
            self.last_ts_ns, self.last_seq, self.last = other.last_ts_ns, other.last_seq, other.last

    @property
    def stddev(self) -> float:
        return math.sqrt(max(self.m2, 0.0) / self.count) if self.count else 0.0

    def to_json(self) -> list[Any]:
        return [
            self.count,
            self.mean,
            self.m2,
            self.minimum,
            self.maximum,
            self.last_ts_ns,
            self.last_seq,
            self.last,
        ]

    @classmethod
    def from_json(cls, data: list[Any]) -> WindowStats:
        return cls(*data)


@dataclass(frozen=True, slots=True)
class WindowAggregate:
    """One window's statistics as written to the aggregate buckets."""

    device: str
    site: str
    sensor: str
    width_s: int
    start_ns: int
    count: int
    mean: float
    stddev: float
    minimum: float
    maximum: float
    last: float

    @classmethod
    def of(
        cls, device: str, site: str, sensor: str, width_s: int, start_ns: int, s: WindowStats
    ) -> WindowAggregate:
        return cls(
            device,
            site,
            sensor,
            width_s,
            start_ns,
            s.count,
            s.mean,
            s.stddev,
            s.minimum,
            s.maximum,
            s.last,
        )
