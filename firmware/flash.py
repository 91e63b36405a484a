"""``fieldlink firmware flash``: write an image to an SD card and verify it by reading back.

Safety first: the target must be a whole block device that is removable, not mounted (nor
any of its partitions) and no larger than ``max_size`` (default 256 GiB, bigger than any
SD card a Pi takes, smaller than most system disks). ``force`` skips those checks; a regular
file is accepted only with ``allow_file`` (what the tests use).

>>> result = flash_image(Path("pi-07.img"), Path("/dev/sdb"))   # doctest: +SKIP
>>> result.sha256 == result.verified_sha256                      # doctest: +SKIP
True
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from firmware.errors import FlashError, TargetRefusedError

__all__ = [
    "DEFAULT_MAX_SIZE",
    "FlashResult",
    "TargetInfo",
    "check_target",
    "describe_block_device",
    "flash_image",
    "probe_target",
]

log = logging.getLogger(__name__)

DEFAULT_MAX_SIZE = 256 * 1024**3
_CHUNK = 4 * 1024 * 1024

Progress = Callable[[str, int, int], None]
"""Called as ``progress(phase, done_bytes, total_bytes)``; phase is "write" or "verify"."""


@dataclass(frozen=True, slots=True)
class TargetInfo:
    """What we know about a flash target before touching it."""

    path: Path
    exists: bool
    block_device: bool
    size: int | None
    removable: bool | None
    mounted: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class FlashResult:
    target: Path
    bytes_written: int
    sha256: str
    verified_sha256: str


def probe_target(
    path: Path, *, sys_root: Path = Path("/sys"), mounts: Path = Path("/proc/mounts")
) -> TargetInfo:
    """Inspect ``path`` through sysfs and the mount table; never opens it for writing."""
    if not path.exists():
        return TargetInfo(path, exists=False, block_device=False, size=None, removable=None)
    mode = path.stat().st_mode
    if not stat.S_ISBLK(mode):
        size = path.stat().st_size if stat.S_ISREG(mode) else None
        return TargetInfo(path, exists=True, block_device=False, size=size, removable=None)
    return describe_block_device(path, sys_root=sys_root, mounts=mounts)


def describe_block_device(
    path: Path, *, sys_root: Path = Path("/sys"), mounts: Path = Path("/proc/mounts")
) -> TargetInfo:
    """Size, removable flag and mounts (of the disk or any partition) of a block device."""
    name = path.resolve().name
    block = sys_root / "class" / "block" / name
    size = removable = None
    if (block / "size").is_file():
        size = int((block / "size").read_text().strip()) * 512
    if (block / "removable").is_file():
        removable = (block / "removable").read_text().strip() == "1"
    names = {name}
    if block.is_dir():
        names |= {p.name for p in block.iterdir() if (p / "partition").is_file()}
    mounted = []
    if mounts.is_file():
        for line in mounts.read_text().splitlines():
            fields = line.split()
            if len(fields) >= 2 and fields[0].startswith("/dev/") and Path(fields[0]).name in names:
                mounted.append(f"{fields[0]} on {fields[1]}")
    return TargetInfo(path, True, True, size, removable, tuple(mounted))


def check_target(
    info: TargetInfo,
    image_size: int,
    *,
    force: bool = False,
    allow_file: bool = False,
    max_size: int = DEFAULT_MAX_SIZE,
) -> None:
    """Raise :class:`TargetRefusedError` if writing ``image_size`` bytes to ``info`` is
    unsafe. ``force`` waives mounted/removable/size; ``allow_file`` permits a regular file."""
    if not info.block_device:
        if not info.exists and not allow_file:
            raise TargetRefusedError(
                info.path, "missing", "no such device (use --allow-file to write a file)"
            )
        if not allow_file:
            raise TargetRefusedError(
                info.path, "not-a-device", "not a block device (use --allow-file for a file)"
            )
        if info.exists and info.size is None:
            raise TargetRefusedError(info.path, "not-a-file", "neither a device nor a file")
        return
    if info.size is not None and info.size < image_size:
        raise TargetRefusedError(
            info.path, "too-small", f"holds {info.size} bytes, the image needs {image_size}"
        )
    if force:
        return
    if info.mounted:
        raise TargetRefusedError(
            info.path, "mounted", f"is mounted ({'; '.join(info.mounted)}); unmount it first"
        )
    if info.removable is not True:
        raise TargetRefusedError(
            info.path, "not-removable", "is not a removable device (--force if you are sure)"
        )
    if info.size is None or info.size > max_size:
        raise TargetRefusedError(
            info.path,
            "too-large",
            f"is {info.size} bytes, more than the {max_size}-byte sanity bound for an SD card "
            "(--force if you are sure)",
        )


def flash_image(
    image: Path,
    target: Path,
    *,
    force: bool = False,
    allow_file: bool = False,
    max_size: int = DEFAULT_MAX_SIZE,
    progress: Progress = lambda _phase, _done, _total: None,
    probe: Callable[[Path], TargetInfo] = probe_target,
) -> FlashResult:
    """Write ``image`` to ``target``, then read it back and compare SHA-256 digests."""
    if not image.is_file():
        raise FlashError(image, "no such image file")
    size = image.stat().st_size
    check_target(probe(target), size, force=force, allow_file=allow_file, max_size=max_size)
    log.info("flashing %s (%d bytes) to %s", image, size, target)
    written = hashlib.sha256()
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(target, flags, 0o644)
    except OSError as exc:
        raise FlashError(target, f"cannot open for writing: {exc.strerror}") from exc
    done = 0
    try:
        with image.open("rb") as source:
            while chunk := source.read(_CHUNK):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view) :]
                written.update(chunk)
                done += len(chunk)
                progress("write", done, size)
        os.fsync(fd)
        if hasattr(os, "posix_fadvise"):  # read back from the medium, not the page cache
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    except OSError as exc:
        raise FlashError(target, f"write failed after {done} bytes: {exc.strerror}") from exc
    finally:
        os.close(fd)
    verified = _read_back(target, size, progress)
    if verified != written.hexdigest():
        raise FlashError(
            target, f"verification failed: wrote {written.hexdigest()}, read back {verified}"
        )
    log.info("verified %s: sha256 %s", target, verified)
    return FlashResult(target, size, written.hexdigest(), verified)


def _read_back(target: Path, size: int, progress: Progress) -> str:
    digest = hashlib.sha256()
    done = 0
    try:
        with target.open("rb") as handle:
            while done < size:
                chunk = handle.read(min(_CHUNK, size - done))
                if not chunk:
                    raise FlashError(target, f"read back only {done} of {size} bytes")
                digest.update(chunk)
                done += len(chunk)
                progress("verify", done, size)
    except OSError as exc:
        raise FlashError(target, f"read-back failed: {exc.strerror}") from exc
    return digest.hexdigest()
