"""``fieldlink lab replay``: load, shorten, replay and print the verdict of each scenario."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from lab.settings import LabSettings

from .model import FaultKind, Scenario
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


def deadman_silent_s(scenario: Scenario) -> float:
    """The deadman's ``silent_s`` for a replay: the cloud's 60 s, or longer than the longest
    silence the scenario imposes (a partition, a power loss) plus 30 s.

    A silenced device's broker connection times out after 1.5 keepalives and the broker's
    last will reaches the cloud, which moves the deadman's "last seen"; with a deadman
    shorter than the silence, the episode count then depends on that race. Beyond the
    longest silence, any deadman episode is a false outage alarm, which the judge fails.
    """
    silences = [
        f.duration_s
        for f in scenario.faults
        if f.kind in (FaultKind.PARTITION, FaultKind.AGENT_KILL)
    ]
    return max([60.0, *(s + 30.0 for s in silences)])


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
                deadman_silent_s=deadman_silent_s(scenario),
                on_step=step,
            )
        print_verdict(console, result)
        results.append(result)
    if len(results) > 1:
        passed = sum(r.verdict.ok for r in results)
        console.print(f"{passed}/{len(results)} scenarios passed; reports in {out_dir}")
    return all(r.verdict.ok for r in results)
