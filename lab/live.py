"""The live terminal view of a running lab, built from the cloud API.

:class:`Snapshot` is what one poll of the API returned; :func:`render` turns two successive
snapshots into a rich renderable (rates need two). :class:`ApiPoller` does the polling.

>>> first = Snapshot(at_s=0.0, devices=[], pipeline={"totals": {"readings_fresh": 0}})
>>> second = Snapshot(at_s=2.0, devices=[], pipeline={"totals": {"readings_fresh": 100}})
>>> readings_per_s(first, second)
50.0
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table

__all__ = ["ApiPoller", "Snapshot", "readings_per_s", "render"]


@dataclass(frozen=True)
class Snapshot:
    at_s: float
    devices: list[dict[str, Any]]
    pipeline: dict[str, Any]
    open_alerts: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    @property
    def online(self) -> int:
        return sum(bool(d.get("online")) for d in self.devices)

    @property
    def backlog(self) -> int:
        return sum(int(d.get("backlog") or 0) for d in self.devices)

    @property
    def consumer_lag(self) -> int | None:
        lag = self.pipeline.get("consumer_lag_total")
        return None if lag is None else int(lag)

    @property
    def fresh(self) -> int:
        return int((self.pipeline.get("totals") or {}).get("readings_fresh", 0))


def readings_per_s(before: Snapshot | None, now: Snapshot) -> float | None:
    """Fresh readings stored per second between two snapshots."""
    if before is None or now.at_s <= before.at_s:
        return None
    return max(0, now.fresh - before.fresh) / (now.at_s - before.at_s)


class ApiPoller:
    """Reads ``/devices``, ``/pipeline`` and ``/alerts?state=open`` from the cloud API."""

    def __init__(self, base_url: str, *, timeout_s: float = 5.0):
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(  # noqa: S310 - our own loopback API
            self.base_url + path, timeout=self.timeout_s
        ) as response:
            return json.loads(response.read())

    def poll(self) -> Snapshot:
        now = time.monotonic()
        try:
            devices = self.get("/devices")["devices"]
            pipeline = self.get("/pipeline")
            alerts = self.get("/alerts?state=open")["alerts"]
        except (urllib.error.URLError, OSError, ValueError, KeyError) as exc:
            return Snapshot(at_s=now, devices=[], pipeline={}, error=str(exc))
        return Snapshot(at_s=now, devices=devices, pipeline=pipeline, open_alerts=alerts)


def render(before: Snapshot | None, now: Snapshot, *, fleet: int, api_url: str, mode: str) -> Group:
    """The dashboard: a summary line, the busiest devices and the open alerts."""
    rate = readings_per_s(before, now)
    summary = Table.grid(padding=(0, 3))
    for _ in range(5):
        summary.add_column()
    summary.add_row(
        f"[b]devices online[/b] {now.online}/{fleet}",
        f"[b]readings/s[/b] {'-' if rate is None else f'{rate:,.0f}'}",
        f"[b]backlog[/b] {now.backlog:,}",
        f"[b]consumer lag[/b] {'-' if now.consumer_lag is None else f'{now.consumer_lag:,}'}",
        f"[b]open alerts[/b] {len(now.open_alerts)}",
    )
    devices = Table(title="devices (largest backlog first)", expand=True)
    for column in ("device", "online", "backlog", "missing", "last seen"):
        devices.add_column(column)
    ordered = sorted(now.devices, key=lambda d: (-(d.get("backlog") or 0), d.get("device", "")))
    for row in ordered[:12]:
        seen = row.get("last_seen_ns")
        age = f"{time.time() - seen / 1e9:.0f} s ago" if seen else "never"
        devices.add_row(
            str(row.get("device")),
            "[green]yes[/green]" if row.get("online") else "[red]no[/red]",
            str(row.get("backlog", 0)),
            str(row.get("missing", 0)),
            age,
        )
    alerts = Table(title="open alerts", expand=True)
    for column in ("rule", "device", "sensor", "alert id"):
        alerts.add_column(column)
    for alert in now.open_alerts[:8]:
        alerts.add_row(
            str(alert.get("rule")),
            str(alert.get("device")),
            str(alert.get("sensor") or ""),
            str(alert.get("alert_id")),
        )
    footer = f"dashboard API {api_url}   fault mode: {mode}   Ctrl-C stops everything"
    if now.error:
        footer += f"\n[yellow]API not answering yet: {now.error}[/yellow]"
    return Group(Panel(summary, title="fieldlink lab"), devices, alerts, footer)
