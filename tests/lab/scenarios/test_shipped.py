"""Each shipped scenario, shortened, replayed against the real stack: the verdict holds.

Loss and duplicates are exact: 0, unless the scenario's buffer policy drops, and then equal
to the agents' own counters. Catch-up time and live latency are recorded in the report but
not asserted (no timing assertions in tests; ``fieldlink lab bench`` prints them). Fleets
are cut to the devices a scenario's faults name (at least four) to fit the tier's time
budget on a 2-core machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.replay.cli import deadman_silent_s
from lab.replay.model import Scenario
from lab.replay.runner import replay

pytestmark = pytest.mark.scenario

_SCENARIOS = Path(__file__).parents[3] / "lab" / "scenarios"
_FACTOR = 0.15
_MIN_DEVICES = 4


def _needed_devices(scenario: Scenario) -> int:
    ids = scenario.fleet.device_ids()
    used = [0]
    for fault in scenario.faults:
        if fault.target is not None and not fault.target.site:
            used += [ids.index(d) for d in fault.target.resolve(ids)]
    used += [ids.index(o.device) for o in scenario.fleet.overrides]
    return max(_MIN_DEVICES, max(used) + 1)


def small(scenario: Scenario) -> Scenario:
    """``scenario`` shortened, its fleet cut to the devices it needs."""
    data = scenario.shortened(_FACTOR).model_dump()
    for fault in data["faults"]:  # a shorter partition buffers less: shrink the disk too
        if fault["buffer_cap_bytes"] is not None:
            fault["buffer_cap_bytes"] = int(fault["buffer_cap_bytes"] * _FACTOR)
    data["fleet"]["devices"] = min(scenario.fleet.devices, _needed_devices(scenario))
    # Speed bounds are benchmark figures, not test assertions (catch-up and live latency
    # depend on the machine's load); the report still records them.
    data["expect"]["catch_up_s_max"] = None
    data["expect"]["live_p99_ms_max"] = None
    return Scenario.model_validate(data)


def _figures(result_verdict: object, name: str) -> dict[str, float | int | None]:
    for invariant in result_verdict.invariants:  # type: ignore[attr-defined]
        if invariant.name == name:
            return dict(invariant.figures)
    raise AssertionError(f"no invariant {name}")


SHIPPED = sorted(path.stem for path in _SCENARIOS.glob("*.yaml"))


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_scenario_holds(name: str, tmp_path: Path) -> None:
    scenario = small(Scenario.load(_SCENARIOS / f"{name}.yaml"))
    result = replay(scenario, out_dir=tmp_path, deadman_silent_s=deadman_silent_s(scenario))
    failed = [f"{i.name}: {i.detail}" for i in result.verdict.invariants if not i.ok]
    assert not failed, failed
    loss = _figures(result.verdict, "no_loss")
    assert loss["lost"] == 0
    assert loss["unexplained"] == 0
    assert loss["phantoms"] == 0
    assert loss["missing"] == loss["agent_drops"]
    assert (loss["agent_drops"] or 0) > 0 if scenario.expect.policy_drops else True
    assert _figures(result.verdict, "no_duplicates")["duplicates"] == 0
    assert result.html_path.exists()
