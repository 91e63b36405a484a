from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from edge.settings import EdgeSettings
from lab.stack.agents import AgentConfig, render_agent_config
from lab.stack.profiles import sensors_for
from lab.stack.spec import SensorEvent, StackSpec

pytestmark = pytest.mark.unit


def _config(tmp_path: Path, **changes: object) -> AgentConfig:
    values: dict[str, object] = {
        "device": "dev-007",
        "site": "lab",
        "directory": tmp_path,
        "mqtt_host": "10.200.0.1",
        "mqtt_port": 1883,
        "password": "secret",
        "sensors": sensors_for(
            "door",
            hz=5,
            seed=3,
            events=[SensorEvent("dev-007", "temp", at_s=12, duration_s=9, value=85.0)],
        ),
        "buffer_cap_bytes": 1 << 20,
        "seed": 3,
    }
    values.update(changes)
    return AgentConfig(**values)  # type: ignore[arg-type]


def test_rendered_config_is_valid_edge_settings(tmp_path: Path) -> None:
    config = _config(tmp_path)
    path = tmp_path / "edge.toml"
    path.write_text(render_agent_config(config))
    settings = EdgeSettings.load(path)
    assert settings.device == "dev-007"
    assert settings.mqtt.username == "dev-007"
    assert settings.buffer.path == config.buffer_path
    assert [s.name for s in settings.sensors] == ["temp", "door"]
    temp = settings.sensors[0]
    assert temp.hz == 5
    assert [(e.at_s, e.value) for e in temp.waveform.schedule] == [(12, 85.0)]
    assert settings.clock == "trusted"


def test_unsynced_device_trusts_only_the_kernel_clock(tmp_path: Path) -> None:
    document = tomllib.loads(render_agent_config(_config(tmp_path, unsynced_s=30.0)))
    assert document["clock"] == "kernel"
    assert document["simulated_unsynced_s"] == 30.0


def test_password_never_in_repr(tmp_path: Path) -> None:
    assert "secret" not in repr(_config(tmp_path))


def test_unknown_profile_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown lab profile"):
        sensors_for("nope", hz=1, seed=1)


def test_spec_validates_workers() -> None:
    with pytest.raises(ValueError, match="workers"):
        StackSpec(workers=5, partitions=4)


def test_agents_drain_at_the_fleet_rate_with_a_small_in_flight_window(tmp_path: Path) -> None:
    path = tmp_path / "edge.toml"
    path.write_text(render_agent_config(_config(tmp_path, drain_max_rate=150.0)))
    publish = EdgeSettings.load(path).publish
    assert publish.drain_max_rate == 150.0
    assert publish.inflight == 4
    assert AgentConfig.__dataclass_fields__["drain_max_rate"].default == StackSpec().drain_max_rate


def test_a_scenario_fleet_sets_the_drain_rate_of_its_agents(tmp_path: Path) -> None:
    from lab.replay.model import Scenario
    from lab.replay.runner import stack_spec

    scenario = Scenario.model_validate(
        {"name": "x", "duration_s": 10, "fleet": {"devices": 1, "drain_max_rate": 75}}
    )
    spec = stack_spec(scenario, run_dir=tmp_path, use_namespaces=False)
    assert spec.drain_max_rate == 75.0
    with pytest.raises(ValueError, match="drain_max_rate"):
        StackSpec(drain_max_rate=0)
