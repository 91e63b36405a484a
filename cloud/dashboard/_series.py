"""A device's readings per sensor, for the live charts: history, then what came after.

Charts take columns (uPlot's ``[xs, ys]``), so rows from InfluxDB are folded into
``{sensor: {"t": [seconds], "v": [values]}}``. Times are event times (the sensor's sample
time); a live update asks for readings strictly after the newest one it has.

>>> fold([{"sensor": "t", "_time_ns": 2_000_000_000, "_value": 1.5}])
{'t': {'t': [2.0], 'v': [1.5]}}
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

__all__ = ["MAX_POINTS", "Flux", "Series", "fold"]

Flux = Callable[[str], Awaitable[list[dict[str, Any]]]]
"""Run a Flux query, return its rows (the API's :class:`~cloud.api.Reader` does)."""

MAX_POINTS = 1500
"""Points per sensor in a chart's history: longer ranges are averaged into windows."""

LIVE_LIMIT = 5000
"""Readings per sensor in one live update (a device draining its buffer sends many)."""


def fold(rows: Iterable[dict[str, Any]]) -> dict[str, dict[str, list[float]]]:
    out: dict[str, dict[str, list[float]]] = {}
    for row in sorted(rows, key=lambda r: (r["sensor"], r["_time_ns"])):
        value = row["_value"]
        if value is None:
            continue
        column = out.setdefault(row["sensor"], {"t": [], "v": []})
        column["t"].append(row["_time_ns"] / 1e9)
        column["v"].append(float(value))
    return out


class Series:
    """Queries for one device's charts. Names reaching Flux were validated as plain names."""

    def __init__(self, flux: Flux, raw_bucket: str):
        self.flux = flux
        self.raw_bucket = raw_bucket

    def _base(self, device: str, start: str) -> str:
        return (
            f'from(bucket: "{self.raw_bucket}") |> range(start: {start}) '
            f'|> filter(fn: (r) => r._measurement == "reading" and r.device == "{device}" '
            'and r._field == "value") '
        )

    @staticmethod
    def _with_ns(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for row in rows:
            row["_time_ns"] = int(row["_time"].timestamp() * 1e9 + 0.5)
        return rows

    async def history(self, device: str, minutes: int) -> dict[str, Any]:
        """The last ``minutes`` per sensor, and the newest reading's time (``until_ns``)."""
        every_s = max(1, -(-minutes * 60 // MAX_POINTS))
        base = self._base(device, f"-{minutes}m")
        shaped = (
            f"|> aggregateWindow(every: {every_s}s, fn: mean, createEmpty: false, "
            'timeSrc: "_start")'
            if every_s > 1
            else ""
        )
        rows = await self.flux(base + shaped + ' |> keep(columns: ["_time", "_value", "sensor"])')
        newest = await self.flux(base + '|> group() |> last() |> keep(columns: ["_time"])')
        until_ns = self._with_ns(newest)[0]["_time_ns"] if newest else None
        return {
            "device": device,
            "minutes": minutes,
            "every_s": every_s,
            "until_ns": until_ns,
            "sensors": fold(self._with_ns(rows)),
        }

    async def after(self, device: str, since_ns: int) -> tuple[dict[str, Any], int]:
        """Readings with an event time after ``since_ns``; the new ``since_ns``."""
        rows = await self.flux(
            self._base(device, f"time(v: {since_ns + 1})")
            + f'|> keep(columns: ["_time", "_value", "sensor"]) |> limit(n: {LIVE_LIMIT})'
        )
        rows = self._with_ns(rows)
        counts: dict[str, int] = {}
        for row in rows:
            counts[row["sensor"]] = counts.get(row["sensor"], 0) + 1
        full = {sensor for sensor, n in counts.items() if n >= LIVE_LIMIT}
        if full:
            # A sensor was cut at the limit: stop every sensor where the first cut one
            # stopped, so the next update resumes without a hole.
            cutoff = min(max(r["_time_ns"] for r in rows if r["sensor"] == s) for s in full)
            rows = [r for r in rows if r["_time_ns"] <= cutoff]
        newest = max((r["_time_ns"] for r in rows), default=since_ns)
        return fold(rows), newest
