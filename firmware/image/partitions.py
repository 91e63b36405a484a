"""Reading an MBR partition table (what Raspberry Pi OS images use) without any tool.

>>> table = bytearray(512); table[510:512] = b"\\x55\\xaa"
>>> table[446:462] = bytes([0, 0, 0, 0, 0x0C, 0, 0, 0]) + (8192).to_bytes(4, "little") \\
...     + (1024).to_bytes(4, "little")
>>> [(p.number, p.kind, p.offset) for p in parse_mbr(bytes(table))]
[(1, 'fat32', 4194304)]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from firmware.errors import ImageError

__all__ = ["SECTOR", "Partition", "boot_and_root", "parse_mbr", "read_partitions"]

SECTOR = 512

_FAT_TYPES = {0x0B: "fat32", 0x0C: "fat32", 0x0E: "fat16", 0x06: "fat16", 0x04: "fat16"}
_LINUX = 0x83
_GPT_PROTECTIVE = 0xEE
_EXTENDED = {0x05, 0x0F, 0x85}


@dataclass(frozen=True, slots=True)
class Partition:
    """A primary partition: ``offset`` and ``size`` in bytes from the image start."""

    number: int
    type_id: int
    start_sector: int
    sectors: int

    @property
    def offset(self) -> int:
        return self.start_sector * SECTOR

    @property
    def size(self) -> int:
        return self.sectors * SECTOR

    @property
    def end(self) -> int:
        return self.offset + self.size

    @property
    def kind(self) -> str:
        if self.type_id == _LINUX:
            return "linux"
        return _FAT_TYPES.get(self.type_id, f"type-0x{self.type_id:02x}")


def parse_mbr(sector0: bytes, *, source: Path | str = "image") -> list[Partition]:
    """The non-empty primary partitions of a master boot record."""
    if len(sector0) < SECTOR:
        raise ImageError(source, f"too short for a partition table ({len(sector0)} bytes)")
    if sector0[510:512] != b"\x55\xaa":
        raise ImageError(
            source, "no MBR boot signature: not a disk image (or corrupt / still compressed?)"
        )
    partitions = []
    for number in range(1, 5):
        entry = sector0[446 + 16 * (number - 1) : 446 + 16 * number]
        type_id = entry[4]
        start = int.from_bytes(entry[8:12], "little")
        sectors = int.from_bytes(entry[12:16], "little")
        if type_id == 0 or sectors == 0:
            continue
        if type_id == _GPT_PROTECTIVE:
            raise ImageError(source, "GPT images are not supported; Raspberry Pi OS uses MBR")
        partitions.append(Partition(number, type_id, start, sectors))
    if not partitions:
        raise ImageError(source, "the partition table is empty")
    return partitions


def read_partitions(image: Path) -> list[Partition]:
    """Partitions of ``image``; each must lie inside the file (else it is truncated)."""
    try:
        with image.open("rb") as handle:
            sector0 = handle.read(SECTOR)
    except OSError as exc:
        raise ImageError(image, f"cannot read: {exc.strerror}") from exc
    partitions = parse_mbr(sector0, source=image)
    size = image.stat().st_size
    for part in partitions:
        if part.end > size:
            raise ImageError(
                image,
                f"truncated: partition {part.number} ends at byte {part.end} "
                f"but the image has {size} bytes",
            )
    return partitions


def boot_and_root(image: Path, partitions: list[Partition]) -> tuple[Partition, Partition | None]:
    """The FAT boot partition (the first FAT one) and the Linux root (first type 0x83)."""
    if any(p.type_id in _EXTENDED for p in partitions):
        partitions = [p for p in partitions if p.type_id not in _EXTENDED]
    fat = [p for p in partitions if p.kind.startswith("fat")]
    if not fat:
        kinds = ", ".join(f"{p.number}:{p.kind}" for p in partitions)
        raise ImageError(image, f"no FAT boot partition (partitions: {kinds})")
    linux = [p for p in partitions if p.kind == "linux"]
    return fat[0], (linux[0] if linux else None)
