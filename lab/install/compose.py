"""docker-compose from Debian's packages (1.29.2 on bookworm): the deploy tier's tests
validate ``docker-compose.yml`` with its ``config`` command. No Docker engine is needed or
installed; ``config`` only parses, interpolates and validates the file."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from ._run import Progress
from .errors import InstallError

__all__ = ["ComposeInstaller", "compose_binary"]

PACKAGE = "docker-compose"


def compose_binary() -> Path | None:
    """Path of the ``docker-compose`` command, if installed."""
    found = shutil.which("docker-compose") or shutil.which("docker-compose", path="/usr/bin")
    return Path(found) if found else None


class ComposeInstaller:
    name = "compose"

    def version(self) -> str | None:
        binary = compose_binary()
        if binary is None:
            return None
        out = subprocess.run(
            [binary, "version", "--short"], capture_output=True, text=True, check=False
        )
        match = re.search(r"(\d+\.\d+\.\d+)", out.stdout)
        return match.group(1) if match else None

    def is_installed(self) -> bool:
        return self.version() is not None

    def describe(self) -> str:
        return f"docker-compose {self.version() or '(missing)'} at {compose_binary()}"

    def install(self, progress: Progress, log: Path) -> None:
        if shutil.which("apt-get") is None:
            raise InstallError(
                "docker-compose is missing and this is not a Debian-like system: install "
                "docker-compose (or Docker's compose plugin) with your package manager and rerun."
            )
        if os.geteuid() != 0:
            raise InstallError(f"docker-compose is missing; run: sudo apt-get install {PACKAGE}")
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        progress.run("apt-get update", ["apt-get", "update", "-q"], log=log, env=env)
        progress.run(
            f"apt-get install {PACKAGE}",
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", PACKAGE],
            log=log,
            env=env,
        )
        if not self.is_installed():
            raise InstallError(f"apt-get installed {PACKAGE} but it does not run; see {log}")
