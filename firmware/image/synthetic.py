"""A small disk image shaped like Raspberry Pi OS: MBR, FAT32 ``bootfs``, ext4 ``rootfs``.

For tests, benchmarks and trying the builder without downloading Raspberry Pi OS. Built with
the real tools (sfdisk, mkfs.vfat, mtools, mkfs.ext4 -d), no root or loop device.

>>> make_raspios_image(Path("fake-trixie.img"), release="trixie")   # doctest: +SKIP
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from .tools import find_tool

__all__ = ["BOOT_START", "CMDLINE", "CONFIG_TXT", "make_raspios_image"]

BOOT_START = 8192  # sectors, as Raspberry Pi OS lays it out
CMDLINE = (
    "console=serial0,115200 console=tty1 root=PARTUUID=12345678-02 rootfstype=ext4 "
    "fsck.repair=yes rootwait quiet init=/usr/lib/raspberrypi-sys-mods/firstboot\n"
)
CONFIG_TXT = (
    "# For more options and information see\n"
    "# http://rptl.io/configtxt\n\n"
    "# Uncomment some or all of these to enable the optional hardware interfaces\n"
    "#dtparam=i2c_arm=on\n#dtparam=i2s=on\n#dtparam=spi=on\n\n"
    "dtparam=audio=on\ncamera_auto_detect=1\ndisplay_auto_detect=1\n"
    "auto_initramfs=1\ndtoverlay=vc4-kms-v3d\nmax_framebuffers=2\n"
    "disable_fw_kms_setup=1\narm_64bit=1\n\n[all]\n"
)


def _run(*args: str | Path) -> None:
    subprocess.run([str(a) for a in args], check=True, capture_output=True)  # noqa: S603


def make_raspios_image(
    path: Path, *, release: str | None = "trixie", boot_mib: int = 40, root_mib: int = 8
) -> Path:
    boot_sectors = boot_mib * 2048
    root_start = BOOT_START + boot_sectors
    root_sectors = root_mib * 2048
    with path.open("wb") as handle:
        handle.truncate((root_start + root_sectors) * 512)
    table = (
        "label: dos\nlabel-id: 0x12345678\n"
        f"start={BOOT_START}, size={boot_sectors}, type=c\n"
        f"start={root_start}, size={root_sectors}, type=83\n"
    )
    sfdisk = [str(find_tool("sfdisk")), "-q", str(path)]
    subprocess.run(sfdisk, input=table.encode(), check=True)  # noqa: S603 - fixed tool
    _run(
        find_tool("mkfs.vfat"),
        "-F",
        "32",
        "-s",
        "1",
        "-n",
        "bootfs",
        "--offset",
        str(BOOT_START),
        path,
        str(boot_sectors // 2),
    )
    spec = f"{path}@@{BOOT_START * 512}"
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in (("cmdline.txt", CMDLINE), ("config.txt", CONFIG_TXT)):
            (Path(tmp) / name).write_text(text)
            _run(find_tool("mcopy"), "-i", spec, Path(tmp) / name, f"::/{name}")
        root = Path(tmp) / "root"
        (root / "etc").mkdir(parents=True)
        (root / "etc" / "hostname").write_text("raspberrypi\n")
        if release is not None:
            (root / "etc" / "os-release").write_text(
                f'PRETTY_NAME="Debian GNU/Linux ({release})"\nID=debian\n'
                f"VERSION_CODENAME={release}\n"
            )
        _run(
            find_tool("mkfs.ext4"),
            "-q",
            "-L",
            "rootfs",
            "-d",
            root,
            "-E",
            f"offset={root_start * 512}",
            path,
            f"{root_sectors // 2}k",
        )
    return path
