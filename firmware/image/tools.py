"""Running mtools and e2fsprogs on a partition inside an image file, never mounting it.

mtools addresses a partition as ``IMAGE@@OFFSET``; e2fsprogs as ``IMAGE?offset=OFFSET``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from firmware.errors import ToolError

__all__ = ["find_tool", "run_tool"]

_SEARCH = ("/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/local/bin")

_PACKAGES = {
    "mcopy": "mtools",
    "mdir": "mtools",
    "mmd": "mtools",
    "mtype": "mtools",
    "debugfs": "e2fsprogs",
    "mkfs.ext4": "e2fsprogs",
    "mkfs.vfat": "dosfstools",
    "sfdisk": "fdisk",
}


def find_tool(name: str) -> Path:
    """Path of ``name``, looking in the sbin directories too (debugfs lives there)."""
    found = shutil.which(name) or shutil.which(name, path=os.pathsep.join(_SEARCH))
    if found is None:
        package = _PACKAGES.get(name, name)
        raise ToolError(name, f"not installed; install it with: apt-get install {package}")
    return Path(found)


def run_tool(name: str, *args: str | Path, input_bytes: bytes | None = None) -> bytes:
    """Run ``name args...``; return stdout, raise :class:`ToolError` with stderr on failure."""
    env = {**os.environ, "MTOOLS_NO_VFAT": "0", "LC_ALL": "C"}
    env.pop("MTOOLSRC", None)
    result = subprocess.run(  # noqa: S603 - fixed tool, arguments are paths we built
        [str(find_tool(name)), *(str(a) for a in args)],
        input=input_bytes,
        capture_output=True,
        check=False,
        env=env,
    )
    if result.returncode != 0:
        raise ToolError(
            name,
            f"exit status {result.returncode}",
            stderr=result.stderr.decode(errors="replace"),
        )
    return result.stdout
