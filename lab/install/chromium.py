"""Debian's Chromium, which the dashboard's browser tests drive through Playwright.

Playwright's own browser download is never used (``playwright install`` fetches a build from
outside the package registries): the tests point Playwright at this binary instead.
Installing it needs apt-get as root; using it does not.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from ._apt import apt_install
from ._run import Progress
from .errors import InstallError

__all__ = ["CHROMIUM", "ChromiumInstaller"]

CHROMIUM = Path("/usr/bin/chromium")
PACKAGE = "chromium"


class ChromiumInstaller:
    name = "chromium"

    def __init__(self, binary: Path = CHROMIUM):
        self.binary = binary

    def is_installed(self) -> bool:
        return self.binary.is_file() and os.access(self.binary, os.X_OK)

    def describe(self) -> str:
        if not self.is_installed():
            return f"chromium: missing ({self.binary})"
        try:
            version = subprocess.run(
                [str(self.binary), "--version"], capture_output=True, text=True, timeout=30
            ).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            version = "version unknown"
        return f"{version or 'chromium'} at {self.binary}"

    def install(self, progress: Progress, log: Path) -> None:
        apt_install("chromium", [PACKAGE], progress=progress, log=log)
        if not self.is_installed():
            raise InstallError(f"still missing after apt-get: {self.binary}")
