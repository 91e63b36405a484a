"""Disk-image tools the firmware tier and its tests use: sfdisk (fdisk), mkfs.vfat
(dosfstools), mtools and e2fsprogs, from Debian's packages. Nothing is mounted, so no root
is needed to *use* them; installing them needs apt-get as root."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ._apt import apt_install
from ._run import Progress
from .errors import InstallError

__all__ = ["ImageToolsInstaller"]

_SEARCH = ("/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/local/bin")

# tool -> Debian package
TOOLS = {
    "sfdisk": "fdisk",
    "mkfs.vfat": "dosfstools",
    "mcopy": "mtools",
    "mkfs.ext4": "e2fsprogs",
    "debugfs": "e2fsprogs",
}


def _which(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path=os.pathsep.join(_SEARCH))


class ImageToolsInstaller:
    name = "imagetools"

    def missing(self) -> list[str]:
        return [tool for tool in TOOLS if _which(tool) is None]

    def is_installed(self) -> bool:
        return not self.missing()

    def describe(self) -> str:
        missing = self.missing()
        if missing:
            return f"image tools: missing {', '.join(missing)}"
        return f"image tools: {', '.join(TOOLS)}"

    def install(self, progress: Progress, log: Path) -> None:
        packages = sorted({TOOLS[tool] for tool in self.missing()})
        apt_install("image tools", packages, progress=progress, log=log)
        if not self.is_installed():
            raise InstallError(f"still missing after apt-get: {', '.join(self.missing())}")
