"""Raw driver values to physical values and back (the inverse drives simulated hardware).

>>> from edge.settings import Calibration
>>> tmp36 = Calibration(scale=100.0, offset=-50.0)        # volts -> degC
>>> apply(tmp36, 0.75), invert(tmp36, 25.0)
(25.0, 0.75)
>>> soil = Calibration(table=[(0.0, 0.0), (1.5, 40.0), (3.0, 100.0)])
>>> apply(soil, 2.25), invert(soil, 70.0)
(70.0, 2.25)
"""

from __future__ import annotations

import bisect

from ..settings import Calibration

__all__ = ["apply", "invert"]


def _interpolate(points: list[tuple[float, float]], x: float) -> float:
    xs = [p[0] for p in points]
    if x <= xs[0]:
        return points[0][1]
    if x >= xs[-1]:
        return points[-1][1]
    i = bisect.bisect_right(xs, x)
    (x0, y0), (x1, y1) = points[i - 1], points[i]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


def apply(calibration: Calibration, raw: float) -> float:
    """The physical value of a raw reading."""
    if calibration.table is not None:
        return _interpolate(list(calibration.table), raw)
    return raw * calibration.scale + calibration.offset


def invert(calibration: Calibration, value: float) -> float:
    """The raw reading that calibrates to ``value`` (tables must be monotonic in value)."""
    if calibration.table is not None:
        return _interpolate(sorted((v, r) for r, v in calibration.table), value)
    return (value - calibration.offset) / calibration.scale
