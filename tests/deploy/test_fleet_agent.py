"""deploy/docker/edge/fleet-agent.sh: each edge replica claims a distinct device identity.

The agent itself is replaced by a stand-in `fieldlink` on PATH that records its arguments
and sleeps (holding the inherited lock, as the real agent does)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import REPO

pytestmark = pytest.mark.unit

SCRIPT = REPO / "deploy" / "docker" / "edge" / "fleet-agent.sh"


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    for device in ("sim-001", "sim-002"):
        directory = tmp_path / "fleet" / "devices" / device
        directory.mkdir(parents=True)
        (directory / "edge.toml").write_text(f'device = "{device}"\n')
    stub = tmp_path / "bin" / "fieldlink"
    stub.parent.mkdir()
    stub.write_text('#!/bin/sh\necho "args: $*" >&2\nexec sleep 60\n')
    stub.chmod(0o755)
    return tmp_path


@pytest.fixture
def agents() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        proc.kill()
        proc.wait()


def start(fleet: Path, agents: list[subprocess.Popen[str]]) -> tuple[str, str]:
    """Start one replica; return the device it claimed and the command it ran."""
    env = {
        **os.environ,
        "PATH": f"{fleet / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "FIELDLINK_FLEET_DIR": str(fleet / "fleet"),
    }
    proc = subprocess.Popen(["bash", SCRIPT], env=env, stderr=subprocess.PIPE, text=True)
    agents.append(proc)
    assert proc.stderr is not None
    claimed = proc.stderr.readline().strip()
    command = proc.stderr.readline().strip()
    return claimed.rsplit(" ", 1)[-1], command


def test_replicas_claim_distinct_identities_and_free_them_when_they_die(
    fleet: Path, agents: list[subprocess.Popen[str]]
) -> None:
    first, command = start(fleet, agents)
    assert first == "sim-001"
    config = fleet / "fleet" / "devices" / "sim-001" / "edge.toml"
    assert command == f"args: edge run --config {config} --simulate"
    second, _ = start(fleet, agents)
    assert second == "sim-002"

    env = {
        **os.environ,
        "PATH": f"{fleet / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "FIELDLINK_FLEET_DIR": str(fleet / "fleet"),
    }
    third = subprocess.run(["bash", SCRIPT], env=env, capture_output=True, text=True, timeout=30)
    assert third.returncode == 1
    assert "no free device identity" in third.stderr

    agents[0].kill()
    agents[0].wait()
    again, _ = start(fleet, agents)
    assert again == "sim-001"  # the dead replica's identity (and its buffer) is taken over
