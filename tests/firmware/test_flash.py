"""Flashing: safety checks on (simulated) block devices, and a real write + read-back to a
file-backed target."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from firmware.errors import FlashError, TargetRefusedError
from firmware.flash import (
    TargetInfo,
    check_target,
    describe_block_device,
    flash_image,
    probe_target,
)

pytestmark = pytest.mark.unit

GIB = 1024**3
CARD = TargetInfo(Path("/dev/sdb"), True, True, size=32 * GIB, removable=True)


def test_a_removable_unmounted_card_is_accepted():
    check_target(CARD, 4 * GIB)


@pytest.mark.parametrize(
    ("info", "check"),
    [
        (
            TargetInfo(CARD.path, True, True, 32 * GIB, True, ("/dev/sdb1 on /media/boot",)),
            "mounted",
        ),
        (TargetInfo(CARD.path, True, True, 32 * GIB, removable=False), "not-removable"),
        (TargetInfo(CARD.path, True, True, 2000 * GIB, removable=True), "too-large"),
        (TargetInfo(Path("/tmp/x.bin"), True, False, 10, None), "not-a-device"),
        (TargetInfo(Path("/dev/nope"), False, False, None, None), "missing"),
    ],
)
def test_unsafe_targets_are_refused_unless_forced(info: TargetInfo, check: str):
    with pytest.raises(TargetRefusedError) as caught:
        check_target(info, GIB)
    assert caught.value.check == check
    assert isinstance(caught.value, OSError)
    if info.block_device:
        check_target(info, GIB, force=True)


def test_a_target_smaller_than_the_image_is_refused_even_forced():
    with pytest.raises(TargetRefusedError, match="the image needs"):
        check_target(CARD, 64 * GIB, force=True)


def test_block_device_is_described_from_sysfs_and_partition_mounts(tmp_path: Path):
    """A fake /sys and /proc/mounts: this machine has no SD card to look at."""
    block = tmp_path / "sys" / "class" / "block" / "sdz"
    (block / "sdz1").mkdir(parents=True)
    (block / "sdz1" / "partition").write_text("1\n")
    (block / "size").write_text(f"{(16 * GIB) // 512}\n")
    (block / "removable").write_text("1\n")
    mounts = tmp_path / "mounts"
    mounts.write_text("/dev/sdz1 /media/bootfs vfat rw 0 0\nproc /proc proc rw 0 0\n")
    info = describe_block_device(Path("/dev/sdz"), sys_root=tmp_path / "sys", mounts=mounts)
    assert (info.size, info.removable) == (16 * GIB, True)
    assert info.mounted == ("/dev/sdz1 on /media/bootfs",)
    with pytest.raises(TargetRefusedError, match="unmount it first"):
        check_target(info, GIB)
    mounts.write_text("proc /proc proc rw 0 0\n")
    check_target(
        describe_block_device(Path("/dev/sdz"), sys_root=tmp_path / "sys", mounts=mounts), GIB
    )


def test_probe_of_files_and_missing_paths(tmp_path: Path):
    (tmp_path / "card.bin").write_bytes(b"x" * 10)
    file_info = probe_target(tmp_path / "card.bin")
    assert file_info.exists
    assert not file_info.block_device
    assert file_info.size == 10
    assert not probe_target(tmp_path / "absent").exists


def test_flash_to_a_file_target_writes_and_verifies(tmp_path: Path):
    image = tmp_path / "pi.img"
    image.write_bytes(bytes(range(256)) * 40_000)  # ~10 MB, several chunks
    target = tmp_path / "card.bin"
    phases: list[tuple[str, int, int]] = []
    with pytest.raises(TargetRefusedError, match="--allow-file"):
        flash_image(image, target)
    result = flash_image(image, target, allow_file=True, progress=lambda *args: phases.append(args))
    expected = hashlib.sha256(image.read_bytes()).hexdigest()
    assert result.sha256 == result.verified_sha256 == expected
    assert target.read_bytes() == image.read_bytes()
    assert phases[-1] == ("verify", image.stat().st_size, image.stat().st_size)
    assert {p for p, _, _ in phases} == {"write", "verify"}


def test_verification_catches_a_target_that_changes_underneath(tmp_path: Path):
    image = tmp_path / "pi.img"
    image.write_bytes(b"\x01" * 1_000_000)
    target = tmp_path / "card.bin"

    def corrupting_probe(path: Path) -> TargetInfo:
        return TargetInfo(path, True, False, 0, None)

    def progress(phase: str, done: int, total: int) -> None:
        # The card loses a byte between writing and reading back.
        if phase == "write" and done == total:
            with target.open("r+b") as handle:
                handle.seek(500_000)
                handle.write(b"\x00")

    with pytest.raises(FlashError, match="verification failed"):
        flash_image(image, target, allow_file=True, progress=progress, probe=corrupting_probe)
