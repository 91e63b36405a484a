"""Mosquitto 2.x from Debian's packages. We only need the binaries: the lab starts its own
instance with its own config and port, never the system service."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from ._apt import apt_install
from ._run import Progress
from .errors import InstallError

__all__ = ["MosquittoInstaller", "mosquitto_binary"]

_SEARCH = ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/opt/homebrew/sbin")


def mosquitto_binary(name: str = "mosquitto") -> Path | None:
    """Path of ``mosquitto`` (or ``mosquitto_passwd``), which Debian puts in /usr/sbin."""
    found = shutil.which(name) or shutil.which(name, path=os.pathsep.join(_SEARCH))
    return Path(found) if found else None


class MosquittoInstaller:
    name = "mosquitto"

    def version(self) -> str | None:
        binary = mosquitto_binary()
        if binary is None:
            return None
        # mosquitto -h prints its version and exits with status 3.
        out = subprocess.run([binary, "-h"], capture_output=True, text=True, check=False)
        match = re.search(r"mosquitto version (\d+\.\d+\.\d+)", out.stdout + out.stderr)
        return match.group(1) if match else None

    def is_installed(self) -> bool:
        version = self.version()
        return (
            version is not None
            and version.startswith("2.")
            and mosquitto_binary("mosquitto_passwd") is not None
        )

    def describe(self) -> str:
        return f"Mosquitto {self.version() or '(missing)'} at {mosquitto_binary()}"

    def install(self, progress: Progress, log: Path) -> None:
        apt_install("Mosquitto 2.x", ["mosquitto"], progress=progress, log=log)
        if not self.is_installed():
            raise InstallError(f"apt-get installed mosquitto but it is not 2.x; see {log}")
