"""``fieldlink firmware build`` against synthetic Raspberry Pi OS images, read back with the
real mtools and debugfs."""

from __future__ import annotations

import hashlib
import lzma
import shutil
import tomllib
from pathlib import Path

import pytest
import yaml

from broker.mosquitto import verify_password
from firmware.errors import DeviceNotFoundError, ImageError
from firmware.image import BuildRequest, build_image
from firmware.image.fat import FatPartition
from firmware.image.partitions import read_partitions
from firmware.image.synthetic import CMDLINE, CONFIG_TXT, make_raspios_image
from firmware.registry import Registry

pytestmark = pytest.mark.integration

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFieldlinkTestKey me@laptop"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _boot(image: Path) -> FatPartition:
    boot = read_partitions(image)[0]
    return FatPartition(image, offset=boot.offset)


def _request(base: Path, out: Path, wheel: Path, **changes: object) -> BuildRequest:
    fields: dict[str, object] = {
        "base": base,
        "device": "pi-07",
        "output": out,
        "mqtt_host": "broker.lan",
        "wheel": wheel,
        "wifi_ssid": "farm",
        "wifi_psk": "correct horse",
        "wifi_country": "FR",
        "ssh_keys": [KEY],
    } | changes
    return BuildRequest(**fields)  # type: ignore[arg-type]


def test_trixie_image_gets_cloud_init_agent_config_and_credentials(
    base_image: Path, wheel: Path, registry: Registry, tmp_path: Path
):
    registry.add("pi-07", site="farm", profile="climate", cert=True)
    before = _sha(base_image)
    out = tmp_path / "out" / "pi-07.img"
    result = build_image(_request(base_image, out, wheel), registry=registry)

    assert _sha(base_image) == before, "the base image must never be modified"
    assert result.release == "trixie"
    assert result.interfaces == ("spi",)
    assert sorted(p.name for p in out.parent.iterdir()) == ["pi-07.img"]  # no partial left
    boot = _boot(out)
    assert sorted(boot.list("fieldlink")) == sorted(
        f"fieldlink/{name}"
        for name in (
            "ca.pem",
            "client.key",
            "client.pem",
            "edge.toml",
            "fieldlink-edge.service",
            wheel.name,
            "install-agent.sh",
        )
    )
    assert boot.read(f"fieldlink/{wheel.name}") == wheel.read_bytes()

    user_data = boot.read("user-data").decode()
    assert user_data.startswith("#cloud-config\n")
    doc = yaml.safe_load(user_data)
    assert doc["hostname"] == "pi-07"
    assert doc["users"][0]["ssh_authorized_keys"] == [KEY]
    assert doc["ntp"]["enabled"] is True
    assert doc["runcmd"] == [["sh", "/boot/firmware/fieldlink/install-agent.sh"]]
    net = yaml.safe_load(boot.read("network-config"))["network"]["wifis"]["wlan0"]
    assert net["access-points"] == {"farm": {"password": "correct horse"}}
    assert net["regulatory-domain"] == "FR"
    assert yaml.safe_load(boot.read("meta-data"))["local-hostname"] == "pi-07"
    install = boot.read("fieldlink/install-agent.sh").decode()
    assert f"/boot/firmware/fieldlink/{wheel.name}" in install
    assert "systemctl enable --now fieldlink-edge.service" in install

    config = tomllib.loads(boot.read("fieldlink/edge.toml").decode())
    assert (config["device"], config["site"]) == ("pi-07", "farm")
    assert config["mqtt"]["host"] == "broker.lan"
    assert config["mqtt"]["username"] == "pi-07"
    assert registry.verify("pi-07", config["mqtt"]["password"])
    assert verify_password(
        registry.password_file.read_text().split(":", 1)[1].strip(), config["mqtt"]["password"]
    )
    assert [s["name"] for s in config["sensors"]] == [
        "temperature",
        "light",
        "soil_moisture",
        "cpu_temperature",
    ]
    assert registry.ca.verify(boot.read("fieldlink/client.pem"))
    assert boot.read("fieldlink/ca.pem") == registry.ca.cert_pem

    config_txt = boot.read("config.txt").decode()
    assert "\ndtparam=spi=on\n" in config_txt
    assert "\n#dtparam=i2c_arm=on\n" in config_txt
    assert config_txt.replace("\ndtparam=spi=on\n", "\n#dtparam=spi=on\n") == CONFIG_TXT
    assert boot.read("cmdline.txt").decode() == CMDLINE  # cloud-init needs no cmdline change
    assert not boot.exists("firstrun.sh")


def test_bookworm_image_gets_firstrun_from_an_xz_base(
    bookworm_image: Path, wheel: Path, registry: Registry, tmp_path: Path
):
    registry.add("pi-08", site="yard", profile="security")
    compressed = tmp_path / "raspios-bookworm.img.xz"
    with lzma.open(compressed, "wb", preset=0) as handle:
        handle.write(bookworm_image.read_bytes())
    out = tmp_path / "pi-08.img"
    result = build_image(
        _request(compressed, out, wheel, device="pi-08", wifi_ssid=None, wifi_psk=None),
        registry=registry,
    )
    assert result.release == "bookworm"
    assert result.interfaces == ()
    boot = _boot(out)
    cmdline = boot.read("cmdline.txt").decode()
    assert cmdline == CMDLINE.rstrip("\n") + (
        " systemd.run=/boot/firmware/firstrun.sh systemd.run_success_action=reboot"
        " systemd.unit=kernel-command-line.target\n"
    )
    firstrun = boot.read("firstrun.sh").decode()
    assert "HOST=pi-08" in firstrun
    assert KEY in firstrun
    assert "set_wlan" not in firstrun
    assert "fieldlink-firstboot.service" in firstrun
    assert boot.exists("fieldlink/fieldlink-firstboot.service")
    assert boot.read("config.txt").decode() == CONFIG_TXT  # GPIO-only profile: untouched
    assert tomllib.loads(boot.read("fieldlink/edge.toml").decode())["site"] == "yard"


def test_unknown_device_fails_before_anything_is_written(
    base_image: Path, wheel: Path, registry: Registry, tmp_path: Path
):
    out = tmp_path / "out.img"
    with pytest.raises(DeviceNotFoundError, match="fieldlink device add pi-07"):
        build_image(_request(base_image, out, wheel), registry=registry)
    assert list(tmp_path.iterdir()) == [base_image]


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        ("truncate", "truncated: partition 2"),
        ("zero-mbr", "no MBR boot signature"),
        ("zero-boot", "not a readable FAT filesystem"),
        ("zero-root", "root partition is not a readable ext4"),
        ("not-an-image", "no MBR boot signature"),
        ("xz-truncated", "corrupt or truncated xz"),
    ],
)
def test_corrupt_and_truncated_images_are_rejected_cleanly(
    damage: str, match: str, base_image: Path, wheel: Path, registry: Registry, tmp_path: Path
):
    issued = registry.add("pi-07", site="farm")
    data = bytearray(base_image.read_bytes())
    boot_offset, root_offset = (p.offset for p in read_partitions(base_image))
    if damage == "truncate":
        del data[-4 * 1024 * 1024 :]  # the end of the root partition
    elif damage == "zero-mbr":
        data[:512] = bytes(512)
    elif damage == "zero-boot":
        data[boot_offset : boot_offset + 1024 * 1024] = bytes(1024 * 1024)
    elif damage == "zero-root":
        data[root_offset : root_offset + 1024 * 1024] = bytes(1024 * 1024)
    elif damage == "not-an-image":
        data = bytearray(b"hello, I am a text file\n" * 100)
    base = tmp_path / "damaged.img"
    if damage == "xz-truncated":
        packed = lzma.compress(bytes(data), preset=0)
        base = tmp_path / "damaged.img.xz"
        base.write_bytes(packed[: len(packed) // 2])
    else:
        base.write_bytes(data)
    out = tmp_path / "out" / "pi-07.img"
    out.parent.mkdir()
    out.write_bytes(b"previous image")
    with pytest.raises(ImageError, match=match) as caught:
        build_image(_request(base, out, wheel), registry=registry)
    assert str(base) in str(caught.value)
    assert [p.name for p in out.parent.iterdir()] == ["pi-07.img"]
    assert out.read_bytes() == b"previous image"
    assert registry.verify("pi-07", issued.password), "a failed build must not rotate"


def test_image_without_root_partition_or_release_is_refused(
    wheel: Path, registry: Registry, tmp_path: Path
):
    registry.add("pi-07", site="farm")
    unknown = make_raspios_image(tmp_path / "unknown.img", release=None)
    with pytest.raises(ImageError, match="--release bookworm"):
        build_image(_request(unknown, tmp_path / "a.img", wheel), registry=registry)
    forced = build_image(
        _request(unknown, tmp_path / "b.img", wheel, release="trixie"), registry=registry
    )
    assert forced.release == "trixie"

    no_root = tmp_path / "no-root.img"
    shutil.copyfile(unknown, no_root)
    with no_root.open("r+b") as handle:  # blank partition entry 2
        handle.seek(446 + 16)
        handle.write(bytes(16))
    with pytest.raises(ImageError, match="no Linux root partition"):
        build_image(_request(no_root, tmp_path / "c.img", wheel), registry=registry)


def test_a_full_boot_partition_fails_cleanly_and_keeps_credentials(
    base_image: Path, wheel: Path, registry: Registry, tmp_path: Path
):
    issued = registry.add("pi-07", site="farm")
    wheelhouse = tmp_path / "wheelhouse"
    wheelhouse.mkdir()
    with (wheelhouse / "huge-1.0-py3-none-any.whl").open("wb") as handle:
        handle.truncate(45 * 1024 * 1024)  # more than the 40 MiB boot partition
    out = tmp_path / "out" / "pi-07.img"
    with pytest.raises(ImageError, match="boot partition is full"):
        build_image(_request(base_image, out, wheel, wheelhouse=wheelhouse), registry=registry)
    assert list(out.parent.iterdir()) == []
    assert registry.verify("pi-07", issued.password)
