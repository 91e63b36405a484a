"""Fixtures of the deploy tier's tests: the repository's files, and the compose file as a real
compose implementation (Debian's docker-compose 1.29.2, ``fieldlink lab install``) renders
it. No Docker engine is involved: ``docker-compose config`` only parses, interpolates and
validates."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.install import compose_binary

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"


def run_compose(env_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    binary = compose_binary()
    assert binary is not None, "docker-compose missing: run `fieldlink lab install`"
    # Only what compose needs from our environment: a FIELDLINK_* variable set by the caller
    # must not change what the file renders to.
    env = {key: value for key, value in os.environ.items() if not key.startswith("FIELDLINK_")}
    return subprocess.run(
        [binary, "--project-directory", REPO, "--env-file", env_file, "-f", COMPOSE_FILE, *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        check=False,
    )


@pytest.fixture(scope="session")
def env_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A .env written by deploy/compose/make-env from .env.example (random secrets)."""
    directory = tmp_path_factory.mktemp("compose-env")
    (directory / ".env.example").write_text((REPO / ".env.example").read_text())
    subprocess.run([REPO / "deploy" / "compose" / "make-env"], cwd=directory, check=True)
    return directory / ".env"


@pytest.fixture(scope="session")
def compose(env_file: Path) -> dict[str, Any]:
    """The fully rendered compose model, with the `sim` profile."""
    result = run_compose(env_file, "--profile", "sim", "config")
    assert result.returncode == 0, result.stderr
    model: dict[str, Any] = yaml.safe_load(result.stdout)
    return model


@pytest.fixture(scope="session")
def secrets(env_file: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    return {key: value for key, value in pairs if not key.startswith("#")}
