"""``fieldlink firmware build``: a stock Raspberry Pi OS image in, a device's image out.

Nothing is mounted: partitions come from the MBR, the FAT boot partition is edited with
mtools, and the ext4 root is only read (``/etc/os-release``, to pick cloud-init or
bookworm's ``firstrun.sh``). The base image is never touched: it is copied (or decompressed,
for ``.img.xz``) to a temporary file next to the output, edited there, and renamed over the
output only when everything succeeded.

>>> result = build_image(BuildRequest(base=Path("2025-11-24-raspios-trixie-arm64-lite.img.xz"),
...                                   device="pi-07", output=Path("pi-07.img"),
...                                   mqtt_host="broker.lan", wheel=Path("dist/f.whl")),
...                      registry=Registry())                  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import lzma
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from firmware.cloudinit import (
    AGENT_DIR,
    FirstBoot,
    cmdline_with_firstrun,
    enable_interfaces,
    firstboot_unit,
    firstrun_script,
    install_script,
    meta_data,
    network_config,
    user_data,
)
from firmware.edgeconfig import CONFIG_DIR, EdgeConfig, render_edge_config
from firmware.errors import ImageError
from firmware.profiles import get_profile
from firmware.registry import Issued, Registry

from .ext4 import Ext4Partition
from .fat import FatPartition
from .partitions import boot_and_root, read_partitions
from .wheel import build_wheel, edge_unit

__all__ = ["BOOT_DIR", "BuildRequest", "BuildResult", "build_image"]

log = logging.getLogger(__name__)

BOOT_DIR = AGENT_DIR.removeprefix("/boot/firmware/")
"""The folder on the boot partition holding the agent's files (``fieldlink``)."""

_CLOUD_INIT_RELEASES = ("trixie", "forky", "duke")
_FIRSTRUN_RELEASES = ("bookworm",)
_CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class BuildRequest:
    """Everything ``fieldlink firmware build`` was asked for."""

    base: Path
    device: str
    output: Path
    mqtt_host: str
    mqtt_port: int = 1883
    mqtt_tls: bool = False
    mqtt_ca: Path | None = None
    wheel: Path | None = None
    wheelhouse: Path | None = None
    wifi_ssid: str | None = None
    wifi_psk: str | None = None
    wifi_country: str = "GB"
    ssh_keys: Sequence[str] = field(default=())
    user: str = "pi"
    ntp_servers: Sequence[str] = field(default=("pool.ntp.org",))
    timezone: str = "Etc/UTC"
    release: str = "auto"
    extra_interfaces: Sequence[str] = field(default=())

    def __repr__(self) -> str:  # never print a Wi-Fi passphrase by accident
        return f"BuildRequest(base={self.base}, device={self.device!r}, output={self.output})"


@dataclass(frozen=True, slots=True)
class BuildResult:
    output: Path
    device: str
    release: str
    boot_files: tuple[str, ...]
    interfaces: tuple[str, ...]


def build_image(
    request: BuildRequest,
    *,
    registry: Registry,
    progress: Callable[[str], None] = lambda _: None,
) -> BuildResult:
    """Write the image for ``request.device`` with fresh credentials for it.

    Raises :class:`~firmware.errors.DeviceNotFoundError` before reading the image if the
    device is unknown, :class:`~firmware.errors.ImageError` for a corrupt, truncated or
    unrecognised image; in every failure the output is left as it was.
    """
    device = registry.get(request.device)
    if not device.active:
        raise ImageError(request.base, f"device {device.id!r} is revoked; add a new one")
    profile = get_profile(device.profile)
    interfaces = tuple(sorted({*profile.interfaces, *request.extra_interfaces}))
    if not request.base.is_file():
        raise ImageError(request.base, "no such file")
    if request.base.resolve() == request.output.resolve():
        raise ImageError(request.base, "the output must not be the base image")
    if request.mqtt_ca is not None and not request.mqtt_ca.is_file():
        raise ImageError(request.mqtt_ca, "--mqtt-ca: no such file")
    boot_settings = FirstBoot(  # validates Wi-Fi, SSH keys and host name before any I/O
        hostname=device.id,
        instance_id=f"fieldlink-{device.id}-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}",
        user=request.user,
        ssh_keys=tuple(request.ssh_keys),
        wifi_ssid=request.wifi_ssid,
        wifi_psk=request.wifi_psk,
        wifi_country=request.wifi_country,
        ntp_servers=tuple(request.ntp_servers),
        timezone=request.timezone,
        interfaces=interfaces,
        wheelhouse=request.wheelhouse is not None,
    )
    request.output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{request.output.name}.", suffix=".partial", dir=request.output.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with tempfile.TemporaryDirectory(prefix="fieldlink-build-") as work:
            wheel = request.wheel
            if wheel is None:
                progress("building the fieldlink wheel")
                wheel = build_wheel(Path(work) / "wheel")
            else:
                _check_wheel(wheel)
            # pip only installs a wheel under its own file name.
            boot_settings = dataclasses.replace(boot_settings, wheel=wheel.name)
            progress(f"copying {request.base.name}")
            _copy_base(request.base, tmp)
            boot, release = _open(tmp, request.base, request.release)
            progress(f"customising the {release} image for {device.id}")
            issued = registry.prepare_rotation(device.id)
            files = _write_boot(boot, issued, request, boot_settings, wheel, release)
        with tmp.open("rb+") as handle:
            os.fsync(handle.fileno())
        # Record the image's credentials, then publish the image; a failure before this
        # point leaves both the output and the device's current credentials untouched.
        registry.commit(issued)
        tmp.replace(request.output)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    log.info("built %s for device %s (%s)", request.output, device.id, release)
    return BuildResult(request.output, device.id, release, tuple(files), interfaces)


def _check_wheel(wheel: Path) -> None:
    if not wheel.is_file() or not wheel.name.endswith(".whl"):
        raise ImageError(wheel, "--wheel: not a wheel file")


def _copy_base(base: Path, target: Path) -> None:
    if base.name.endswith(".xz"):
        try:
            with lzma.open(base, "rb") as source, target.open("wb") as out:
                shutil.copyfileobj(source, out, _CHUNK)
        except (lzma.LZMAError, EOFError) as exc:
            raise ImageError(base, f"corrupt or truncated xz archive ({exc})") from exc
    else:
        shutil.copyfile(base, target)


def _open(image: Path, base: Path, release: str) -> tuple[FatPartition, str]:
    """Check the partitions and filesystems; return the boot partition and the release."""
    try:
        partitions = read_partitions(image)
        boot_part, root_part = boot_and_root(image, partitions)
    except ImageError as exc:
        raise ImageError(base, exc.detail) from None
    if root_part is None:
        raise ImageError(base, "no Linux root partition: not a Raspberry Pi OS image")
    boot = FatPartition(image, offset=boot_part.offset)
    try:
        boot.check()
    except ImageError as exc:
        raise ImageError(base, exc.detail) from None
    for required in ("cmdline.txt", "config.txt"):
        if not boot.exists(required):
            raise ImageError(base, f"the boot partition has no {required}")
    if release == "auto":
        try:
            os_release = Ext4Partition(image, offset=root_part.offset).os_release()
        except ImageError as exc:
            raise ImageError(base, exc.detail) from None
        release = os_release.get("VERSION_CODENAME", "")
        if not release:
            raise ImageError(
                base,
                "cannot tell the Raspberry Pi OS release (no VERSION_CODENAME in "
                "/etc/os-release); pass --release bookworm or --release trixie",
            )
    if release not in (*_CLOUD_INIT_RELEASES, *_FIRSTRUN_RELEASES):
        raise ImageError(base, f"unsupported release {release!r}: need bookworm or later")
    return boot, release


def _write_boot(
    boot: FatPartition,
    issued: Issued,
    request: BuildRequest,
    settings: FirstBoot,
    wheel: Path,
    release: str,
) -> list[str]:
    written: list[str] = []

    def put(path: str, data: bytes | str) -> None:
        boot.write(path, data.encode() if isinstance(data, str) else data)
        written.append(path)

    device = issued.device
    ca_file = cert_file = key_file = None
    if request.mqtt_ca is not None:
        put(f"{BOOT_DIR}/mqtt-ca.pem", request.mqtt_ca.read_bytes())
        ca_file = f"{CONFIG_DIR}/mqtt-ca.pem"
    if issued.certificate is not None and issued.ca_pem is not None:
        put(f"{BOOT_DIR}/ca.pem", issued.ca_pem)
        put(f"{BOOT_DIR}/client.pem", issued.certificate.cert_pem)
        put(f"{BOOT_DIR}/client.key", issued.certificate.key_pem)
        cert_file, key_file = f"{CONFIG_DIR}/client.pem", f"{CONFIG_DIR}/client.key"
        ca_file = ca_file or f"{CONFIG_DIR}/ca.pem"
    config = EdgeConfig(
        device=device.id,
        site=device.site,
        mqtt_host=request.mqtt_host,
        mqtt_port=request.mqtt_port,
        mqtt_username=device.id,
        mqtt_password=issued.password,
        mqtt_tls=request.mqtt_tls or cert_file is not None,
        ca_file=ca_file,
        cert_file=cert_file,
        key_file=key_file,
        sensors=get_profile(device.profile).sensors,
    )
    put(f"{BOOT_DIR}/edge.toml", render_edge_config(config))
    boot.copy_in(wheel, f"{BOOT_DIR}/{settings.wheel}")
    written.append(f"{BOOT_DIR}/{settings.wheel}")
    if request.wheelhouse is not None:
        for extra in sorted(request.wheelhouse.glob("*.whl")):
            boot.copy_in(extra, f"{BOOT_DIR}/wheelhouse/{extra.name}")
            written.append(f"{BOOT_DIR}/wheelhouse/{extra.name}")
    put(f"{BOOT_DIR}/fieldlink-edge.service", edge_unit())
    put(f"{BOOT_DIR}/install-agent.sh", install_script(settings))
    put("user-data", user_data(settings))
    put("network-config", network_config(settings))
    put("meta-data", meta_data(settings))
    if release in _FIRSTRUN_RELEASES:
        put(f"{BOOT_DIR}/fieldlink-firstboot.service", firstboot_unit())
        put("firstrun.sh", firstrun_script(settings))
        put("cmdline.txt", cmdline_with_firstrun(boot.read("cmdline.txt").decode()))
    if settings.interfaces:
        config_txt = boot.read("config.txt").decode()
        put("config.txt", enable_interfaces(config_txt, settings.interfaces))
    return written
