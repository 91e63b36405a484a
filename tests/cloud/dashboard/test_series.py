"""Chart series and the live event stream over a scripted query function (no servers)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from cloud.api._reader import UpstreamError
from cloud.dashboard import Series, live_events
from cloud.dashboard._series import LIVE_LIMIT

pytestmark = pytest.mark.unit


def _row(sensor: str, ns: int, value: float | None) -> dict[str, Any]:
    return {"sensor": sensor, "_time": datetime.fromtimestamp(ns / 1e9, tz=UTC), "_value": value}


class Script:
    """Answers queries in turn and keeps the Flux it was sent."""

    def __init__(self, *answers: list[dict[str, Any]] | Exception):
        self.answers = list(answers)
        self.sent: list[str] = []

    async def __call__(self, flux: str) -> list[dict[str, Any]]:
        self.sent.append(flux)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


async def test_history_folds_rows_into_columns_and_reports_the_newest() -> None:
    flux = Script([_row("t", 2 * 10**9, 2.0), _row("t", 10**9, 1.0), _row("h", 10**9, None)],
                  [_row("t", 2 * 10**9, 2.0)])  # fmt: skip
    body = await Series(flux, "p-raw").history("pi-1", 15)
    assert body["sensors"] == {"t": {"t": [1.0, 2.0], "v": [1.0, 2.0]}}
    assert body["until_ns"] == 2 * 10**9
    assert body["every_s"] == 1
    assert "aggregateWindow" not in flux.sent[0]
    assert 'r.device == "pi-1"' in flux.sent[0]
    assert 'from(bucket: "p-raw")' in flux.sent[0]


async def test_long_history_is_averaged_to_bounded_points() -> None:
    flux = Script([], [])
    body = await Series(flux, "raw").history("pi-1", 24 * 60)
    assert body["every_s"] == 58
    assert "aggregateWindow(every: 58s" in flux.sent[0]
    assert body["until_ns"] is None


async def test_live_update_cut_at_the_limit_resumes_without_a_hole() -> None:
    full = [_row("a", (i + 1) * 10**9, float(i)) for i in range(LIVE_LIMIT)]
    beyond = [_row("b", i * 10**9, 1.0) for i in (1, LIVE_LIMIT, LIVE_LIMIT + 5)]
    flux = Script(full + beyond)
    sensors, newest = await Series(flux, "raw").after("pi-1", 0)
    assert newest == LIVE_LIMIT * 10**9
    assert sensors["b"]["t"] == [1.0, float(LIVE_LIMIT)]
    assert "time(v: 1)" in flux.sent[0]


async def test_live_events_send_readings_with_ids_keepalives_and_outages() -> None:
    flux = Script([_row("t", 5 * 10**9, 1.5)], [], UpstreamError("InfluxDB down"),
                  [_row("t", 6 * 10**9, 2.5)])  # fmt: skip
    stream = live_events(Series(flux, "raw"), "pi-1", 10**9, poll_s=0.001, heartbeat_s=0.001)
    got = [await anext(stream) for _ in range(5)]
    await stream.aclose()
    assert got[0] == b"retry: 2000\n\n"
    assert got[1].startswith(b"id: 5000000000\nevent: readings\ndata: ")
    assert got[2] == b": keep-alive\n\n"
    assert got[3].startswith(b"event: unavailable\n")
    assert b"InfluxDB down" in got[3]
    assert got[4].startswith(b"id: 6000000000\n")
    assert "time(v: 5000000001)" in flux.sent[3]
