"""Reading and writing files on a FAT partition inside an image, through mtools.

>>> boot = FatPartition(Path("out.img"), offset=4194304)   # doctest: +SKIP
>>> boot.write("fieldlink/edge.toml", b"device = 'pi-07'\\n")  # doctest: +SKIP
>>> boot.read("config.txt")                                 # doctest: +SKIP
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from firmware.errors import ImageError, ToolError

from .tools import run_tool

__all__ = ["FatPartition"]


class FatPartition:
    """The FAT filesystem starting ``offset`` bytes into ``image``."""

    def __init__(self, image: Path, *, offset: int):
        self.image = image
        self.offset = offset

    @property
    def _spec(self) -> str:
        return f"{self.image}@@{self.offset}"

    def check(self) -> None:
        """Raise :class:`ImageError` unless mtools can read the root directory."""
        try:
            run_tool("mdir", "-b", "-i", self._spec, "::/")
        except ToolError as exc:
            raise ImageError(
                self.image, f"the boot partition is not a readable FAT filesystem ({exc.stderr})"
            ) from exc

    def exists(self, path: str) -> bool:
        try:
            run_tool("mdir", "-b", "-i", self._spec, f"::/{path}")
        except ToolError:
            return False
        return True

    def list(self, directory: str = "") -> list[str]:
        """Paths (relative to the root) of the entries of ``directory``."""
        out = run_tool("mdir", "-b", "-i", self._spec, f"::/{directory}").decode()
        return [line.removeprefix("::/") for line in out.splitlines() if line.strip()]

    def read(self, path: str) -> bytes:
        try:
            return run_tool("mcopy", "-n", "-i", self._spec, f"::/{path}", "-")
        except ToolError as exc:
            raise ImageError(self.image, f"cannot read {path} from the boot partition") from exc

    def mkdir(self, path: str) -> None:
        """Create ``path`` and its parents if missing."""
        parts = [p for p in path.split("/") if p]
        for depth in range(1, len(parts) + 1):
            partial = "/".join(parts[:depth])
            if not self.exists(partial):
                run_tool("mmd", "-i", self._spec, f"::/{partial}")

    def write(self, path: str, data: bytes) -> None:
        """Write ``data`` to ``path`` (replacing it), creating parent directories."""
        parent = path.rpartition("/")[0]
        if parent:
            self.mkdir(parent)
        with tempfile.NamedTemporaryFile(prefix="fieldlink-fat-") as tmp:
            tmp.write(data)
            tmp.flush()
            self.copy_in(Path(tmp.name), path)

    def copy_in(self, source: Path, path: str) -> None:
        parent = path.rpartition("/")[0]
        if parent:
            self.mkdir(parent)
        try:
            run_tool("mcopy", "-o", "-n", "-i", self._spec, source, f"::/{path}")
        except ToolError as exc:
            if "Disk full" in exc.stderr or "No free" in exc.stderr:
                raise ImageError(self.image, f"the boot partition is full writing {path}") from exc
            raise
