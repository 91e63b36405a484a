"""The replay report: ``report.json`` (verdict, figures, timelines) and ``report.html`` with
timeline plots (buffer depth per device, ingest rate, consumer lag, live latency), the fault
windows shaded, and the verdict table on top.

Plots are drawn with plotly; ``plotly.min.js`` is written once beside the reports so a
page works offline and stays small.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from .judge import Verdict
from .model import Scenario

__all__ = ["Timelines", "write_report"]

Series = Sequence[tuple[float, float]]
"""(seconds since run start, value) points."""

_PANELS = (
    ("buffer_depth", "Edge buffer depth (readings)"),
    ("ingest_rate", "Ingest rate into InfluxDB (readings/s)"),
    ("consumer_lag", "Kafka consumer lag (records)"),
    ("live_latency_ms", "Live latency, sample to queryable (ms)"),
)
_FAULT_COLOURS = {
    "partition": "rgba(214, 39, 40, 0.15)",
    "degrade": "rgba(255, 127, 14, 0.15)",
}
_DEFAULT_COLOUR = "rgba(148, 103, 189, 0.15)"


@dataclass(frozen=True)
class Timelines:
    """What the replay measured over time. ``buffer_depth`` is per device."""

    buffer_depth: Mapping[str, Series] = field(default_factory=dict)
    ingest_rate: Series = ()
    consumer_lag: Series = ()
    live_latency_ms: Series = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "buffer_depth": {k: list(map(list, v)) for k, v in self.buffer_depth.items()},
            "ingest_rate": list(map(list, self.ingest_rate)),
            "consumer_lag": list(map(list, self.consumer_lag)),
            "live_latency_ms": list(map(list, self.live_latency_ms)),
        }


def _figure(scenario: Scenario, timelines: Timelines) -> go.Figure:
    figure = make_subplots(
        rows=len(_PANELS),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.06,
        subplot_titles=[title for _, title in _PANELS],
    )
    for device, points in sorted(timelines.buffer_depth.items()):
        figure.add_trace(_line(device, points), row=1, col=1)
    for row, (name, _) in enumerate(_PANELS[1:], start=2):
        figure.add_trace(_line(name, getattr(timelines, name)), row=row, col=1)
    for fault in scenario.faults:
        colour = _FAULT_COLOURS.get(fault.kind.value, _DEFAULT_COLOUR)
        width = max(fault.duration_s, scenario.duration_s / 400)
        figure.add_vrect(
            x0=fault.at_s,
            x1=fault.at_s + width,
            fillcolor=colour,
            line_width=0,
            annotation_text=fault.kind.value,
            annotation_position="top left",
            row="all",
            col=1,
        )
    figure.update_layout(
        height=260 * len(_PANELS),
        showlegend=False,
        margin={"l": 60, "r": 20, "t": 40},
        template="plotly_white",
    )
    figure.update_xaxes(title_text="seconds since start", row=len(_PANELS), col=1)
    return figure


def _line(name: str, points: Series) -> go.Scatter:
    return go.Scatter(
        x=[t for t, _ in points],
        y=[v for _, v in points],
        name=name,
        mode="lines",
    )


def write_report(
    out_dir: Path,
    scenario: Scenario,
    verdict: Verdict,
    timelines: Timelines,
    *,
    mode: str,
    extra: Mapping[str, object] | None = None,
) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.html`` into ``out_dir``; return their paths.

    ``mode`` says how faults were injected ("namespaces" or "proxy"), so a reader knows
    which kind of partition the verdict speaks for.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    document = {
        "scenario": scenario.model_dump(mode="json"),
        "mode": mode,
        "verdict": verdict.to_dict(),
        "timelines": timelines.to_dict(),
        **(extra or {}),
    }
    json_path = out_dir / "report.json"
    json_path.write_text(json.dumps(document, indent=2, sort_keys=True))
    figure_html = _figure(scenario, timelines).to_html(
        full_html=False, include_plotlyjs=False, div_id="timelines"
    )
    plotly_js = out_dir / "plotly.min.js"  # shared by every report in the directory
    if not plotly_js.exists():
        plotly_js.write_text(get_plotlyjs(), encoding="utf-8")
    html_path = out_dir / "report.html"
    html_path.write_text(_page(scenario, verdict, mode, figure_html))
    return json_path, html_path


def _page(scenario: Scenario, verdict: Verdict, mode: str, figure_html: str) -> str:
    status = "PASS" if verdict.ok else "FAIL"
    rows = "\n".join(
        f"<tr class={'ok' if r.ok else 'fail'}><td>{html.escape(r.name)}</td>"
        f"<td>{'pass' if r.ok else 'FAIL'}</td><td>{html.escape(r.detail)}</td>"
        f"<td><code>{html.escape(json.dumps(r.figures))}</code></td></tr>"
        for r in verdict.invariants
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>fieldlink replay: {html.escape(scenario.name)} - {status}</title>
<script src="plotly.min.js"></script>
<style>
 body {{ font-family: system-ui, sans-serif; margin: 2rem; max-width: 1200px; }}
 table {{ border-collapse: collapse; width: 100%; }}
 td, th {{ border-bottom: 1px solid #ddd; padding: .4rem; text-align: left; }}
 tr.fail td {{ background: #fde8e8; }} tr.ok td:nth-child(2) {{ color: #1a7f37; }}
 .verdict {{ font-size: 1.4rem; font-weight: bold; }}
 .PASS {{ color: #1a7f37; }} .FAIL {{ color: #cf222e; }}
</style></head>
<body>
<h1>Replay: {html.escape(scenario.name)}</h1>
<p>{html.escape(scenario.description)}</p>
<p class="verdict {status}" id="verdict">{status}</p>
<p>Fault injection: <b>{html.escape(mode)}</b> · seed {scenario.seed} ·
 {scenario.fleet.devices} devices at {scenario.fleet.sample_hz:g} Hz ·
 {scenario.duration_s:g} s</p>
<table id="invariants"><thead><tr><th>invariant</th><th>result</th><th>detail</th>
<th>figures</th></tr></thead><tbody>
{rows}
</tbody></table>
{figure_html}
</body></html>
"""
