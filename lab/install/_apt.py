"""Installing Debian packages for the lab: one place for the checks and the apt-get calls."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from ._run import Progress
from .errors import InstallError

__all__ = ["apt_install"]

_updated = False
"""apt-get update runs at most once per process, however many components need packages."""


def apt_install(what: str, packages: Sequence[str], *, progress: Progress, log: Path) -> None:
    """``apt-get install`` ``packages`` (after one ``apt-get update``), or explain what to do
    where that is impossible: not a Debian-like system, or not root."""
    global _updated
    names = " ".join(packages)
    if shutil.which("apt-get") is None:
        raise InstallError(
            f"{what} is missing and this is not a Debian-like system: install {names} with "
            "your package manager and rerun."
        )
    if os.geteuid() != 0:
        raise InstallError(f"{what} is missing; run: sudo apt-get install {names}  (then rerun)")
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    if not _updated:
        progress.run("apt-get update", ["apt-get", "update", "-q"], log=log, env=env)
        _updated = True
    progress.run(
        f"apt-get install {names}",
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
        log=log,
        env=env,
    )
