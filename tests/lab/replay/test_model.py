from __future__ import annotations

from pathlib import Path

import pytest

from fieldlink.errors import ConfigError
from lab.replay import FaultKind, Scenario

pytestmark = pytest.mark.unit

SCENARIOS = sorted((Path(__file__).parents[3] / "lab" / "scenarios").glob("*.yaml"))


def _base(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "s",
        "duration_s": 100,
        "fleet": {"devices": 4},
        "faults": [
            {"kind": "partition", "at_s": 10, "duration_s": 30, "target": {"first": 0, "last": 1}}
        ],
    }
    data.update(changes)
    return data


def test_shipped_scenarios_load_and_cover_every_fault_kind() -> None:
    assert len(SCENARIOS) >= 8
    kinds = {fault.kind for path in SCENARIOS for fault in Scenario.load(path).faults}
    assert kinds == set(FaultKind)
    overlapping = [
        path.name
        for path in SCENARIOS
        if any(
            a is not b and a.at_s < b.end_s and b.at_s < a.end_s
            for a in Scenario.load(path).faults
            for b in Scenario.load(path).faults
        )
    ]
    assert overlapping, "at least one scenario must overlap faults"


def test_target_resolution() -> None:
    scenario = Scenario.model_validate(_base())
    fleet = scenario.fleet.device_ids()
    assert scenario.faults[0].target is not None
    assert scenario.faults[0].target.resolve(fleet) == ["dev-000", "dev-001"]


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (
            {
                "faults": [
                    {"kind": "partition", "at_s": 90, "duration_s": 30, "target": {"site": True}}
                ]
            },
            "after the run",
        ),
        ({"faults": [{"kind": "partition", "at_s": 1}]}, "needs a target"),
        (
            {"faults": [{"kind": "kafka_restart", "at_s": 1, "target": {"site": True}}]},
            "hits a server",
        ),
        ({"faults": [{"kind": "degrade", "at_s": 1, "target": {"site": True}}]}, "latency_ms"),
        (
            {"faults": [{"kind": "disk_full", "at_s": 1, "target": {"site": True}}]},
            "buffer_cap_bytes",
        ),
        (
            {"faults": [{"kind": "partition", "at_s": 1, "target": {"devices": ["dev-999"]}}]},
            "unknown devices",
        ),
        (
            {
                "faults": [
                    {
                        "kind": "partition",
                        "at_s": 1,
                        "target": {"site": True, "first": 0, "last": 1},
                    }
                ]
            },
            "exactly one",
        ),
        (
            {"faults": [{"kind": "partition", "at_s": 1, "target": {"first": 2, "last": 9}}]},
            "beyond a fleet",
        ),
    ],
)
def test_invalid_scenarios_are_refused(change: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        Scenario.model_validate(_base(**change))


def test_shortened_scales_every_time() -> None:
    scenario = Scenario.model_validate(_base()).shortened(0.1)
    assert scenario.duration_s == pytest.approx(10)
    assert (scenario.faults[0].at_s, scenario.faults[0].duration_s) == pytest.approx((1, 3))
    with pytest.raises(ValueError, match="factor"):
        scenario.shortened(0)


def test_load_errors_name_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: s\nduration_s: -1\n")
    with pytest.raises(ConfigError) as info:
        Scenario.load(path)
    assert info.value.field == "duration_s"
    assert str(path) in str(info.value)
    path.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="cannot read"):
        Scenario.load(path)
