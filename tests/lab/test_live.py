from __future__ import annotations

import pytest
from rich.console import Console

from lab.live import Snapshot, readings_per_s, render

pytestmark = pytest.mark.unit


def _snapshot(at_s: float, fresh: int, *, lag: int | None = 3) -> Snapshot:
    return Snapshot(
        at_s=at_s,
        devices=[
            {"device": "dev-000", "online": True, "backlog": 5, "missing": 0},
            {"device": "dev-001", "online": False, "backlog": 120, "missing": 2},
        ],
        pipeline={"totals": {"readings_fresh": fresh}, "consumer_lag_total": lag},
        open_alerts=[{"rule": "overheat", "device": "dev-001", "alert_id": "a1"}],
    )


def test_rate_needs_two_snapshots() -> None:
    assert readings_per_s(None, _snapshot(1, 10)) is None
    assert readings_per_s(_snapshot(0, 0), _snapshot(4, 100)) == 25.0


def test_render_shows_the_figures() -> None:
    console = Console(width=120, record=True)
    console.print(render(_snapshot(0, 0), _snapshot(2, 50), fleet=2, api_url="u", mode="proxy"))
    text = console.export_text()
    assert "devices online 1/2" in text
    assert "readings/s 25" in text
    assert "backlog 125" in text
    assert "consumer lag 3" in text
    assert "open alerts 1" in text
    assert text.index("dev-001") < text.index("dev-000")  # largest backlog first
    assert "fault mode: proxy" in text


def test_render_survives_an_unreachable_api() -> None:
    console = Console(width=120, record=True)
    down = Snapshot(at_s=0, devices=[], pipeline={}, error="connection refused")
    console.print(render(None, down, fleet=3, api_url="u", mode="namespaces"))
    assert "connection refused" in console.export_text()
