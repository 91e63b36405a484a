from __future__ import annotations

from pathlib import Path

import pytest

from lab.bench import recovery_scenario, throughput_scenario
from lab.replay.cli import deadman_silent_s
from lab.replay.model import Scenario
from lab.replay.runner import _drain_latency, _Samples, stack_spec
from lab.replay.timeline import plan

pytestmark = pytest.mark.unit

_SCENARIOS = Path(__file__).parents[3] / "lab" / "scenarios"


def _scenario(faults: list[dict[str, object]], **fleet: object) -> Scenario:
    return Scenario.model_validate(
        {"name": "t", "duration_s": 600, "fleet": {"devices": 4, **fleet}, "faults": faults}
    )


def test_plan_orders_ends_before_starts_at_the_same_time() -> None:
    scenario = _scenario(
        [
            {"kind": "bridge_kill", "at_s": 20, "duration_s": 5},
            {"kind": "worker_kill", "at_s": 10, "duration_s": 10},
        ]
    )
    assert [(a.at_s, a.label) for a in plan(scenario)] == [
        (10, "worker_kill start"),
        (20, "worker_kill end"),
        (20, "bridge_kill start"),
        (25, "bridge_kill end"),
    ]


def test_unsynced_clock_is_a_boot_condition_not_an_action() -> None:
    scenario = _scenario(
        [{"kind": "clock_unsynced", "at_s": 0, "duration_s": 60, "target": {"first": 0, "last": 1}}]
    )
    assert plan(scenario) == []
    spec = stack_spec(scenario, run_dir=None, use_namespaces=False)
    assert dict(spec.unsynced_s) == {"dev-000": 60, "dev-001": 60}


def test_unsynced_clock_later_than_boot_is_refused() -> None:
    scenario = _scenario(
        [
            {
                "kind": "clock_unsynced",
                "at_s": 5,
                "duration_s": 60,
                "target": {"devices": ["dev-000"]},
            }
        ]
    )
    with pytest.raises(ValueError, match="boot condition"):
        stack_spec(scenario, run_dir=None, use_namespaces=False)


def test_shaped_degrade_puts_its_devices_behind_a_proxy() -> None:
    scenario = _scenario(
        [
            {
                "kind": "degrade",
                "at_s": 1,
                "duration_s": 9,
                "latency_ms": 50,
                "target": {"devices": ["dev-001"]},
            },
            {
                "kind": "degrade",
                "at_s": 1,
                "duration_s": 9,
                "rate": "256kbit",
                "target": {"devices": ["dev-002"]},
            },
        ]
    )
    assert stack_spec(scenario, run_dir=None, use_namespaces=True).proxied == {"dev-001"}


def test_overrides_become_sensor_events() -> None:
    scenario = Scenario.load(_SCENARIOS / "overheat-during-partition.yaml")
    (event,) = stack_spec(scenario, run_dir=None, use_namespaces=None).events
    assert (event.device, event.sensor, event.at_s, event.value) == ("dev-007", "temp", 120, 85.0)


def test_replay_deadman_outlasts_every_silence() -> None:
    scenario = _scenario(
        [
            {"kind": "partition", "at_s": 10, "duration_s": 300, "target": {"site": True}},
            {
                "kind": "agent_kill",
                "at_s": 400,
                "duration_s": 20,
                "target": {"devices": ["dev-000"]},
            },
        ]
    )
    assert deadman_silent_s(scenario) == 330
    assert deadman_silent_s(_scenario([])) == 60


def test_every_shipped_scenario_maps_to_a_stack() -> None:
    for path in sorted(_SCENARIOS.glob("*.yaml")):
        scenario = Scenario.load(path)
        spec = stack_spec(scenario.shortened(0.15), run_dir=None, use_namespaces=True)
        assert spec.devices == scenario.fleet.devices


def test_bench_scenarios_have_the_requested_shape() -> None:
    recovery = recovery_scenario(50, 10, 600)
    assert recovery.fleet.devices * recovery.fleet.sample_hz * 600 == 300_000
    assert recovery.faults[0].target is not None
    assert recovery.faults[0].target.site
    assert throughput_scenario(20, 5, 60).faults == ()


def test_live_latency_counts_only_while_the_fleet_streams() -> None:
    samples = _Samples()
    # (poll time s, age ms) and the event time of the reading behind each.
    samples.latency = [(5.0, 900.0), (12.0, 200.0), (20.0, 300.0), (29.0, 400.0), (31.0, 2500.0)]
    samples.latency_ts_ns = [1, 2, 3, 4, 5]
    # No heal: after the 10 s warm-up, before the fleet stop at 30 s.
    assert _drain_latency(samples, None, 30.0) == [200.0, 300.0, 400.0]
    # A heal: readings sampled from the heal on, before the fleet stop.
    assert _drain_latency(samples, 3, 30.0) == [300.0, 400.0]
