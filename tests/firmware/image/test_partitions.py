"""MBR parsing: partitions found, and clear errors for what is not a Pi OS image."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware.errors import ImageError
from firmware.image.partitions import boot_and_root, parse_mbr, read_partitions

pytestmark = pytest.mark.unit


def _mbr(*entries: tuple[int, int, int]) -> bytes:
    sector = bytearray(512)
    for index, (type_id, start, count) in enumerate(entries):
        entry = bytearray(16)
        entry[4] = type_id
        entry[8:12] = start.to_bytes(4, "little")
        entry[12:16] = count.to_bytes(4, "little")
        sector[446 + 16 * index : 462 + 16 * index] = entry
    sector[510:512] = b"\x55\xaa"
    return bytes(sector)


def test_parses_boot_and_root():
    parts = parse_mbr(_mbr((0x0C, 8192, 1024), (0x83, 9216, 2048)))
    assert [(p.number, p.kind, p.offset, p.size) for p in parts] == [
        (1, "fat32", 8192 * 512, 1024 * 512),
        (2, "linux", 9216 * 512, 2048 * 512),
    ]
    boot, root = boot_and_root(Path("x.img"), parts)
    assert boot.number == 1
    assert root is not None
    assert root.number == 2


@pytest.mark.parametrize(
    ("sector", "match"),
    [
        (b"\0" * 512, "no MBR boot signature"),
        (b"\xfd7zXZ\0" + b"\0" * 506, "no MBR boot signature"),
        (b"\x55" * 100, "too short"),
        (_mbr(), "partition table is empty"),
        (_mbr((0xEE, 1, 100)), "GPT"),
    ],
)
def test_unrecognised_tables_are_refused(sector: bytes, match: str):
    with pytest.raises(ImageError, match=match):
        parse_mbr(sector)


def test_missing_boot_partition_is_named():
    with pytest.raises(ImageError, match="no FAT boot partition"):
        boot_and_root(Path("x.img"), parse_mbr(_mbr((0x83, 2048, 100))))


def test_truncated_image_is_detected(tmp_path: Path):
    image = tmp_path / "short.img"
    image.write_bytes(_mbr((0x0C, 8, 100), (0x83, 108, 100)) + b"\0" * (150 * 512))
    with pytest.raises(ImageError, match="truncated: partition 2"):
        read_partitions(image)
