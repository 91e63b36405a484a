"""``fieldlink lab replay``: load, shorten, replay and print the verdict of each scenario."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from lab.settings import LabSettings

from .model import Scenario
from .runner import ReplayResult, replay

__all__ = ["deadman_silent_s", "print_verdict", "run_replays"]


def print_verdict(console: Console, result: ReplayResult) -> None:
    verdict = result.verdict
    status = "[green]PASS[/green]" if verdict.ok else "[red]FAIL[/red]"
    table = Table(title=f"{result.scenario.name}: {status} (fault mode: {result.mode})")
    table.add_column("invariant")
    table.add_column("ok")
    table.add_column("detail")
    for invariant in verdict.invariants:
        table.add_row(invariant.name, "yes" if invariant.ok else "[red]no[/red]", invariant.detail)
    console.print(table)
    console.print(f"report: {result.html_path}")


def deadman_silent_s(factor: float | None) -> float:
    """The cloud's 60 s deadman scaled with the scenario, never under 20 s: a device's
    broker connection takes 15 s (1.5 keepalives) to time out, and the broker's last will
    then reaches the cloud; a shorter deadman would see that as the device's return."""
    return max(20.0, 60.0 * (factor or 1.0))


def run_replays(
    paths: Sequence[Path],
    *,
    factor: float | None,
    out_dir: Path,
    use_namespaces: bool | None,
    lab: LabSettings,
    console: Console | None = None,
) -> bool:
    """Replay each scenario in turn; True when every verdict is ok."""
    console = console or Console()
    results = []
    for path in paths:
        scenario = Scenario.load(path)
        if factor is not None:
            scenario = scenario.shortened(factor)
        console.rule(f"{scenario.name} ({scenario.duration_s:.0f} s)")
        with console.status(f"replaying {scenario.name}") as status:

            def step(text: str) -> None:
                status.update(text)
                console.log(text)

            result = replay(
                scenario,
                out_dir=out_dir / scenario.name,
                lab=lab,
                use_namespaces=use_namespaces,
                deadman_silent_s=deadman_silent_s(factor),
                on_step=step,
            )
        print_verdict(console, result)
        results.append(result)
    if len(results) > 1:
        passed = sum(r.verdict.ok for r in results)
        console.print(f"{passed}/{len(results)} scenarios passed; reports in {out_dir}")
    return all(r.verdict.ok for r in results)
