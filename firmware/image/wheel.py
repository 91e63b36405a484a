"""The fieldlink wheel that goes into an image: given, or built from this checkout."""

from __future__ import annotations

import logging
import subprocess
import sys
from importlib import resources
from pathlib import Path

from firmware.errors import ToolError

__all__ = ["build_wheel", "edge_unit", "repo_root"]

log = logging.getLogger(__name__)


def repo_root() -> Path:
    """The checkout this code runs from (the directory holding ``pyproject.toml``)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file():
        raise ToolError("pip wheel", f"no pyproject.toml in {root}; pass --wheel PATH")
    return root


def build_wheel(out_dir: Path, *, source: Path | None = None) -> Path:
    """``pip wheel --no-deps`` of the checkout into ``out_dir``; returns the wheel's path."""
    source = source or repo_root()
    out_dir.mkdir(parents=True, exist_ok=True)
    log.info("building the fieldlink wheel from %s", source)
    result = subprocess.run(  # noqa: S603 - our own interpreter running pip on our checkout
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out_dir), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise ToolError("pip wheel", f"exit status {result.returncode}", stderr=result.stderr)
    wheels = sorted(out_dir.glob("fieldlink-*.whl"))
    if not wheels:
        raise ToolError("pip wheel", f"produced no fieldlink wheel in {out_dir}")
    return wheels[-1]


def edge_unit() -> str:
    """The edge tier's systemd unit, ``edge/systemd/fieldlink-edge.service``, shipped as
    package data; ``install-agent.sh`` installs the agent at the paths it names."""
    unit = resources.files("edge").joinpath("systemd", "fieldlink-edge.service")
    if not unit.is_file():
        raise ToolError(
            "edge unit", "edge/systemd/fieldlink-edge.service is missing from this install"
        )
    return unit.read_text()
