from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.replay import InvariantResult, Scenario, Verdict
from lab.replay.report import Timelines, write_report

pytestmark = pytest.mark.unit

_SCENARIO = Path(__file__).parents[3] / "lab" / "scenarios" / "broker-restart-during-partition.yaml"


def _timelines() -> Timelines:
    steps = range(0, 360, 10)
    return Timelines(
        buffer_depth={"dev-000": [(t, float(t)) for t in steps], "dev-001": [(0, 0.0)]},
        ingest_rate=[(t, 100.0) for t in steps],
        consumer_lag=[(t, 3.0) for t in steps],
        live_latency_ms=[(t, 42.0) for t in steps],
    )


def test_report_has_verdict_figures_timelines_and_shaded_faults(tmp_path: Path) -> None:
    scenario = Scenario.load(_SCENARIO)
    verdict = Verdict(
        (
            InvariantResult("no_loss", True, "all stored", {"lost": 0}),
            InvariantResult("no_duplicates", False, "3 duplicate rows", {"duplicates": 3}),
        )
    )
    json_path, html_path = write_report(
        tmp_path, scenario, verdict, _timelines(), mode="proxy", extra={"catch_up_s": 4.5}
    )
    document = json.loads(json_path.read_text())
    assert document["verdict"]["ok"] is False
    assert document["mode"] == "proxy"
    assert document["catch_up_s"] == 4.5
    assert document["timelines"]["buffer_depth"]["dev-000"][3] == [30, 30.0]
    page = html_path.read_text()
    assert 'id="verdict">FAIL' in page
    assert "3 duplicate rows" in page
    assert '<script src="plotly.min.js"></script>' in page
    assert (tmp_path / "plotly.min.js").stat().st_size > 1_000_000
    # Each fault is shaded on each of the four panels and labelled with its kind.
    assert page.count('"type":"rect"') == 4 * len(scenario.faults)
    assert '"text":"broker_restart"' in page


def test_report_escapes_text(tmp_path: Path) -> None:
    scenario = Scenario.model_validate(
        {
            "name": "x",
            "description": "<script>alert(1)</script>",
            "duration_s": 10,
        }
    )
    _, html_path = write_report(tmp_path, scenario, Verdict(()), Timelines(), mode="proxy")
    assert "<script>alert(1)</script>" not in html_path.read_text()
