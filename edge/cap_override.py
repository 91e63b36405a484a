"""A byte cap for the buffer that an operator (or the lab) changes without a restart.

The file named by ``buffer.cap_override_path`` holds one integer, the cap in bytes. While it
exists and parses, that cap is in force; once it is removed, the configured ``max_bytes`` is
back. A file that does not parse changes nothing and is counted (``bad_reads``), never fatal.
Write it atomically (write a temporary file, then rename) so a half-written number is never
read.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "cap"
>>> override = CapOverride(path, default=1_000_000)
>>> override.poll() is None  # no file: the default, unchanged
True
>>> _ = path.write_text("65536\\n")
>>> override.poll()
65536
>>> path.unlink()
>>> override.poll()
1000000
"""

from __future__ import annotations

import logging
from pathlib import Path

__all__ = ["CapOverride", "parse_cap"]

logger = logging.getLogger(__name__)


def parse_cap(text: str) -> int:
    """The cap a file holds: one non-negative integer, surrounding whitespace allowed.

    >>> parse_cap(" 4096\\n")
    4096
    >>> parse_cap("-1")
    Traceback (most recent call last):
    ValueError: a byte cap must be a non-negative integer, not '-1'
    """
    stripped = text.strip()
    if not stripped.isdigit():
        raise ValueError(f"a byte cap must be a non-negative integer, not {stripped[:40]!r}")
    return int(stripped)


class CapOverride:
    """Polls the override file; :meth:`poll` returns the new cap when it changed."""

    def __init__(self, path: Path, *, default: int) -> None:
        self.path = path
        self.default = default
        self.current = default
        self.bad_reads = 0

    def poll(self) -> int | None:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            wanted = self.default
        except OSError as exc:
            self.bad_reads += 1
            logger.warning("cap override %s: cannot read: %s", self.path, exc)
            return None
        else:
            try:
                wanted = parse_cap(text)
            except ValueError as exc:
                self.bad_reads += 1
                logger.warning("cap override %s ignored: %s", self.path, exc)
                return None
        if wanted == self.current:
            return None
        logger.info("buffer cap %d -> %d bytes (%s)", self.current, wanted, self.path)
        self.current = wanted
        return wanted
