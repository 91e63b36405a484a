"""Reading (and, only when needed, writing) the ext4 root partition with debugfs."""

from __future__ import annotations

from pathlib import Path

from firmware.errors import ImageError, ToolError

from .tools import run_tool

__all__ = ["Ext4Partition"]


class Ext4Partition:
    """The ext4 filesystem starting ``offset`` bytes into ``image``."""

    def __init__(self, image: Path, *, offset: int):
        self.image = image
        self.offset = offset

    @property
    def _spec(self) -> str:
        return f"{self.image}?offset={self.offset}"

    def read(self, path: str) -> bytes | None:
        """The content of ``path``, or None if it does not exist."""
        try:
            out = run_tool("debugfs", "-R", f"stat {path}", self._spec)
        except ToolError as exc:
            raise ImageError(
                self.image, f"the root partition is not a readable ext4 filesystem ({exc.stderr})"
            ) from exc
        if not out.strip():
            return None
        return run_tool("debugfs", "-R", f"cat {path}", self._spec)

    def os_release(self) -> dict[str, str]:
        """``/etc/os-release`` (or ``/usr/lib/os-release``) as a dict; empty if absent."""
        for path in ("/etc/os-release", "/usr/lib/os-release"):
            content = self.read(path)
            if content is not None:
                return _parse_os_release(content.decode(errors="replace"))
        return {}


def _parse_os_release(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.startswith("#"):
            values[key.strip()] = value.strip().strip('"').strip("'")
    return values
