"""``fieldlink lab bench``: end-to-end figures on this machine, not a test.

Throughput: the fleet samples at rising rates; each level is a fault-free replay, so its
figures are judged ones: readings/s generated and stored with exact loss, and the p50/p99
latency from edge sample time to queryable in InfluxDB. It stops at the first level that
loses data or whose p99 exceeds ``saturation_p99_ms``.
Recovery: the whole fleet is partitioned for ``partition_s``; catch-up is the time from the
heal until InfluxDB holds every reading sampled before it, with the live p99 during it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from lab.replay.cli import deadman_silent_s
from lab.replay.model import Scenario
from lab.replay.runner import ReplayResult, replay
from lab.settings import LabSettings

__all__ = ["BenchRow", "recovery_scenario", "run_bench", "throughput_scenario"]


@dataclass(frozen=True, slots=True)
class BenchRow:
    name: str
    generated_per_s: float
    stored_per_s: float
    lost: int
    p50_ms: float | None
    p99_ms: float | None
    catch_up_s: float | None
    ok: bool


def throughput_scenario(
    devices: int, hz: float, measure_s: float, drain_max_rate: float | None = None
) -> Scenario:
    return Scenario.model_validate(
        {
            "name": f"bench-{devices}x{hz:g}hz",
            "duration_s": measure_s,
            "settle_s": 60,
            "fleet": _fleet(devices, hz, drain_max_rate),
        }
    )


def _fleet(devices: int, hz: float, drain_max_rate: float | None) -> dict[str, float]:
    fleet: dict[str, float] = {"devices": devices, "sample_hz": hz}
    if drain_max_rate is not None:
        fleet["drain_max_rate"] = drain_max_rate
    return fleet


def recovery_scenario(
    devices: int, hz: float, partition_s: float, drain_max_rate: float | None = None
) -> Scenario:
    return Scenario.model_validate(
        {
            "name": f"bench-recovery-{devices}x{hz:g}hz-{partition_s:g}s",
            "duration_s": partition_s + 90,
            "settle_s": 120,
            "fleet": _fleet(devices, hz, drain_max_rate),
            "faults": [
                {
                    "kind": "partition",
                    "at_s": 30,
                    "duration_s": partition_s,
                    "mode": "drop",
                    "target": {"site": True},
                }
            ],
        }
    )


def _figure(result: ReplayResult, invariant: str, key: str) -> float | None:
    for item in result.verdict.invariants:
        if item.name == invariant:
            value = item.figures.get(key)
            return None if value is None else float(value)
    return None


def _row(result: ReplayResult) -> BenchRow:
    scenario = result.scenario
    stored = _figure(result, "no_loss", "stored_unique") or 0.0
    return BenchRow(
        name=scenario.name,
        generated_per_s=(_figure(result, "no_loss", "generated") or 0.0)
        / (result.sampling_s or scenario.duration_s),
        stored_per_s=stored / (result.sampling_s or scenario.duration_s),
        lost=int(_figure(result, "no_loss", "lost") or 0),
        p50_ms=_figure(result, "timing", "live_p50_ms"),
        p99_ms=_figure(result, "timing", "live_p99_ms"),
        catch_up_s=_figure(result, "timing", "catch_up_s"),
        ok=all(i.ok for i in result.verdict.invariants if i.name != "timing"),
    )


def _table(rows: Sequence[BenchRow]) -> Table:
    table = Table(
        title="fieldlink lab bench (readings/s: generated or unique stored / sampling time)"
    )
    table.add_column("run", no_wrap=True)
    for column in ("generated r/s", "stored r/s", "lost", "p50 ms", "p99 ms", "catch-up s"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r.name,
            f"{r.generated_per_s:,.0f}",
            f"{r.stored_per_s:,.0f}",
            str(r.lost),
            "-" if r.p50_ms is None else f"{r.p50_ms:,.0f}",
            "-" if r.p99_ms is None else f"{r.p99_ms:,.0f}",
            "-" if r.catch_up_s is None else f"{r.catch_up_s:,.1f}",
        )
    return table


def run_bench(
    *,
    devices: int,
    rates: Sequence[float],
    measure_s: float,
    recovery_devices: int,
    recovery_hz: float,
    partition_s: float,
    out_dir: Path,
    lab: LabSettings,
    throughput: bool = True,
    recovery: bool = True,
    saturation_p99_ms: float = 5000.0,
    drain_max_rate: float | None = None,
    console: Console | None = None,
) -> list[BenchRow]:
    console = console or Console()
    rows: list[BenchRow] = []

    def run(scenario: Scenario) -> BenchRow:
        with console.status(f"{scenario.name}") as status:

            def step(text: str) -> None:
                status.update(text)
                console.log(text)

            result = replay(
                scenario,
                out_dir=out_dir / scenario.name,
                lab=lab,
                deadman_silent_s=deadman_silent_s(scenario),
                on_step=step,
            )
        row = _row(result)
        rows.append(row)
        console.print(_table(rows))
        return row

    if throughput:
        for hz in rates:
            row = run(throughput_scenario(devices, hz, measure_s, drain_max_rate))
            if not row.ok or (row.p99_ms or 0) > saturation_p99_ms:
                console.print(f"saturated at {row.generated_per_s:,.0f} readings/s generated")
                break
    if recovery:
        run(recovery_scenario(recovery_devices, recovery_hz, partition_s, drain_max_rate))
    return rows
