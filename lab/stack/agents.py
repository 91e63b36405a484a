"""One simulated edge agent: its config file, buffer file, identity and process.

Each agent is ``fieldlink edge run --simulate`` in its own process (inside its network
namespace when there is one), with its own SQLite buffer. Two edge settings are used only
when the installed edge tier has them: ``simulation_record`` (the ground-truth record of
every generated reading) and ``buffer.cap_override_path`` (the disk-full fault).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.settings import BufferSettings, EdgeSettings
from firmware.edgeconfig import toml_dumps
from lab.services import ManagedProcess
from lab.stack.spec import LAB_DRAIN_MAX_RATE

__all__ = [
    "AgentConfig",
    "agent_process",
    "edge_supports_cap_override",
    "edge_supports_record",
    "render_agent_config",
]


def edge_supports_record() -> bool:
    """True when the edge tier can record every generated reading (``simulation_record``)."""
    return "simulation_record" in EdgeSettings.model_fields


def edge_supports_cap_override() -> bool:
    """True when a running agent's byte cap can be changed (``buffer.cap_override_path``)."""
    return "cap_override_path" in BufferSettings.model_fields


@dataclass(frozen=True, slots=True)
class AgentConfig:
    device: str
    site: str
    directory: Path
    mqtt_host: str
    mqtt_port: int
    password: str
    sensors: list[dict[str, Any]]
    buffer_cap_bytes: int
    seed: int
    unsynced_s: float = 0.0
    status_interval_s: float = 5.0
    record: bool = True
    drain_max_rate: float = LAB_DRAIN_MAX_RATE
    """Backlog readings/s after a partition (the edge's ``publish.drain_max_rate``)."""

    @property
    def config_path(self) -> Path:
        return self.directory / "edge.toml"

    @property
    def buffer_path(self) -> Path:
        return self.directory / "buffer.sqlite3"

    @property
    def cap_override_path(self) -> Path:
        return self.directory / "buffer-cap"

    def __repr__(self) -> str:  # never print a password by accident
        return f"AgentConfig(device={self.device!r}, password='***')"


def render_agent_config(config: AgentConfig) -> str:
    buffer: dict[str, Any] = {
        "path": str(config.buffer_path),
        "max_bytes": config.buffer_cap_bytes,
        "durability_ms": 100,
    }
    if edge_supports_cap_override():
        buffer["cap_override_path"] = str(config.cap_override_path)
    document: dict[str, Any] = {
        "device": config.device,
        "site": config.site,
        "clock": "kernel" if config.unsynced_s else "trusted",
        "simulation_seed": config.seed,
        "simulated_unsynced_s": config.unsynced_s,
        "shutdown_drain_s": 1.0,
        "mqtt": {
            "host": config.mqtt_host,
            "port": config.mqtt_port,
            "username": config.device,
            "password": config.password,
            "keepalive_s": 10,
            "reconnect_min_s": 0.2,
            "reconnect_max_s": 2.0,
        },
        "buffer": buffer,
        "publish": {
            "batch_size": 200,
            # Twice the agent's default: a worker sharing two cores with a whole lab is
            # bound by records/s (Faust's per-event cost), so fewer, larger records.
            "linger_ms": 200,
            "drain_max_rate": config.drain_max_rate,
            # Four unacknowledged messages cover the lab's sub-millisecond round trips; the
            # edge's default 16 fill while a dropped link hangs, and 50 agents resending
            # 16 small messages each at the heal put 800 records ahead of live data.
            "inflight": 4,
            "status_interval_s": config.status_interval_s,
        },
        "sensors": config.sensors,
    }
    if config.record and edge_supports_record():
        document["simulation_record"] = True
    return toml_dumps(document)


def fieldlink_argv() -> list[str]:
    """The ``fieldlink`` command of this interpreter's environment."""
    script = Path(sys.executable).with_name("fieldlink")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from fieldlink.cli import main; main()"]


def agent_process(config: AgentConfig, *, wrap: list[str] | None = None) -> ManagedProcess:
    """The agent's supervised process; ``wrap`` prefixes the argv (``ip netns exec NS``)."""
    config.directory.mkdir(parents=True, exist_ok=True)
    config.config_path.write_text(render_agent_config(config))
    config.config_path.chmod(0o600)
    argv = [*(wrap or []), *fieldlink_argv(), "edge", "run", "--config", str(config.config_path)]
    argv.append("--simulate")
    return ManagedProcess(
        f"agent-{config.device}",
        argv,
        run_dir=config.directory,
        ready=config.buffer_path.exists,
        ready_timeout=60,
        env={"PYTHONUNBUFFERED": "1", "PATH": os.environ.get("PATH", "")},
        stop_timeout=10,
    )
