"""What a device does on first boot, as text for its boot partition.

Raspberry Pi OS trixie and later run cloud-init from the boot partition (``user-data``,
``network-config``, ``meta-data``). Bookworm has no cloud-init: Raspberry Pi Imager appends
``systemd.run=/boot/firmware/firstrun.sh`` to ``cmdline.txt`` instead, and so do we
(:func:`firstrun_script`, :func:`cmdline_with_firstrun`). Both paths end in the same
``fieldlink/install-agent.sh``, which installs the wheel into a venv and enables the unit
once the network is up.

Every function here is pure: it takes a :class:`FirstBoot` and returns text.

>>> boot = FirstBoot(hostname="pi-07", wifi_ssid="farm", wifi_psk="correct horse")
>>> import yaml; yaml.safe_load(user_data(boot))["hostname"]
'pi-07'
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

import yaml

__all__ = [
    "AGENT_DIR",
    "BOOT_MOUNT",
    "FirstBoot",
    "cmdline_with_firstrun",
    "enable_interfaces",
    "firstboot_unit",
    "firstrun_script",
    "install_script",
    "meta_data",
    "network_config",
    "user_data",
]

BOOT_MOUNT = "/boot/firmware"
"""Where Raspberry Pi OS (bookworm and later) mounts the boot partition."""
AGENT_DIR = f"{BOOT_MOUNT}/fieldlink"
"""Where the image carries the wheel, config and credentials."""

_COUNTRY = re.compile(r"^[A-Z]{2}$")
_HOSTNAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True, slots=True)
class FirstBoot:
    """Settings applied on first boot. ``instance_id`` changes per build so cloud-init
    runs again on a re-flashed card."""

    hostname: str
    instance_id: str = "fieldlink"
    user: str = "pi"
    ssh_keys: Sequence[str] = field(default=())
    wifi_ssid: str | None = None
    wifi_psk: str | None = None
    wifi_country: str = "GB"
    ntp_servers: Sequence[str] = field(default=("pool.ntp.org",))
    timezone: str = "Etc/UTC"
    interfaces: Sequence[str] = field(default=())
    wheel: str = "fieldlink.whl"
    wheelhouse: bool = False

    def __post_init__(self) -> None:
        if not _HOSTNAME.match(self.hostname.replace("_", "-")):
            raise ValueError(f"hostname {self.hostname!r} is not a valid host name")
        if not _COUNTRY.match(self.wifi_country):
            raise ValueError(f"Wi-Fi country {self.wifi_country!r} must be 2 capital letters")
        if self.wifi_psk is not None:
            if self.wifi_ssid is None:
                raise ValueError("a Wi-Fi PSK needs an SSID")
            if not 8 <= len(self.wifi_psk) <= 63:
                raise ValueError("a WPA2 Wi-Fi passphrase has 8 to 63 characters")
        if self.wifi_ssid is not None and not 1 <= len(self.wifi_ssid.encode()) <= 32:
            raise ValueError("a Wi-Fi SSID has 1 to 32 bytes")
        for key in self.ssh_keys:
            if "\n" in key.strip() or not key.strip().startswith(("ssh-", "ecdsa-", "sk-")):
                raise ValueError(f"not an OpenSSH public key line: {key[:40]!r}")
        unknown = set(self.interfaces) - {"spi", "i2c"}
        if unknown:
            raise ValueError(f"unknown interfaces: {', '.join(sorted(unknown))}")

    @property
    def host(self) -> str:
        return self.hostname.replace("_", "-")


def _dump(document: object) -> str:
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False, width=1000)


def user_data(boot: FirstBoot) -> str:
    """cloud-init ``user-data``: host name, admin user and SSH key, NTP, interfaces, and a
    ``runcmd`` that installs the agent."""
    user: dict[str, object] = {
        "name": boot.user,
        "groups": "users,adm,dialout,audio,netdev,video,plugdev,input,gpio,spi,i2c,sudo",
        "shell": "/bin/bash",
        "lock_passwd": True,
        "sudo": "ALL=(ALL) NOPASSWD:ALL",
    }
    if boot.ssh_keys:
        user["ssh_authorized_keys"] = [key.strip() for key in boot.ssh_keys]
    document: dict[str, object] = {
        "hostname": boot.host,
        "manage_etc_hosts": True,
        "timezone": boot.timezone,
        "users": [user],
        "ssh_pwauth": False,
        "enable_ssh": bool(boot.ssh_keys),
        "ntp": {"enabled": True, "servers": list(boot.ntp_servers)},
        # Raspberry Pi's cloud-init module; config.txt is edited too, for older images.
        "rpi": {"interfaces": {name: name in boot.interfaces for name in ("spi", "i2c")}},
        "runcmd": [["sh", f"{AGENT_DIR}/install-agent.sh"]],
    }
    return "#cloud-config\n" + _dump(document)


def network_config(boot: FirstBoot) -> str:
    """cloud-init ``network-config`` (netplan v2): Ethernet by DHCP, Wi-Fi if an SSID is set."""
    network: dict[str, object] = {
        "version": 2,
        "renderer": "NetworkManager",
        "ethernets": {"eth0": {"dhcp4": True, "optional": True}},
    }
    if boot.wifi_ssid is not None:
        point: dict[str, object] = {}
        if boot.wifi_psk is not None:
            point["password"] = boot.wifi_psk
        network["wifis"] = {
            "wlan0": {
                "dhcp4": True,
                "optional": True,
                "regulatory-domain": boot.wifi_country,
                "access-points": {boot.wifi_ssid: point},
            }
        }
    return _dump({"network": network})


def meta_data(boot: FirstBoot) -> str:
    """cloud-init ``meta-data`` for the NoCloud data source."""
    return _dump({"instance-id": boot.instance_id, "local-hostname": boot.host})


def install_script(boot: FirstBoot) -> str:
    """``install-agent.sh``: run as root once the network is up; idempotent.

    Moves the config and credentials off the FAT partition (readable by every user once
    mounted) into ``/etc/fieldlink`` (mode 0640, group ``fieldlink``).
    """
    wheel = shlex.quote(f"{AGENT_DIR}/{boot.wheel}")
    if boot.wheelhouse:
        pip = (
            f'"$VENV/bin/pip" install --no-index --find-links {shlex.quote(AGENT_DIR)}/wheelhouse '
            f'{wheel}"[edge]"'
        )
    else:
        pip = f'"$VENV/bin/pip" install {wheel}"[edge]"'
    return f"""#!/bin/sh
# Installs the fieldlink edge agent from {AGENT_DIR}; written by 'fieldlink firmware build'.
set -eu
SRC={shlex.quote(AGENT_DIR)}
VENV=/opt/fieldlink/venv
exec >>/var/log/fieldlink-install.log 2>&1
echo "fieldlink install starting $(date -u +%FT%TZ)"

if ! id fieldlink >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/fieldlink --create-home --shell /usr/sbin/nologin fieldlink
fi
for group in gpio spi i2c; do
    if getent group "$group" >/dev/null; then usermod -a -G "$group" fieldlink; fi
done
install -d -m 0750 -o fieldlink -g fieldlink /var/lib/fieldlink
install -d -m 0750 -o root -g fieldlink /etc/fieldlink
for name in edge.toml ca.pem mqtt-ca.pem client.pem client.key; do
    if [ -f "$SRC/$name" ]; then
        install -m 0640 -o root -g fieldlink "$SRC/$name" "/etc/fieldlink/$name"
        rm -f "$SRC/$name"
    fi
done

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
{pip}

install -m 0644 "$SRC/fieldlink-edge.service" /etc/systemd/system/fieldlink-edge.service
systemctl daemon-reload
systemctl enable --now fieldlink-edge.service
systemctl disable fieldlink-firstboot.service 2>/dev/null || true
echo "fieldlink install done $(date -u +%FT%TZ)"
"""


def firstboot_unit() -> str:
    """A oneshot unit that runs ``install-agent.sh`` after the network is online (bookworm,
    whose ``firstrun.sh`` runs before networking)."""
    return f"""[Unit]
Description=Install the fieldlink edge agent (first boot)
Wants=network-online.target
After=network-online.target time-sync.target
ConditionPathExists={AGENT_DIR}/install-agent.sh

[Service]
Type=oneshot
ExecStart=/bin/sh {AGENT_DIR}/install-agent.sh
RemainAfterExit=yes

[Install]
WantedBy=multi-user.target
"""


def firstrun_script(boot: FirstBoot) -> str:
    """Bookworm's ``firstrun.sh``: what cloud-init does on trixie, in the style of
    Raspberry Pi Imager's script (its ``imager_custom`` helper when present)."""
    q = shlex.quote
    lines = [
        "#!/bin/bash",
        "# First boot of a fieldlink device (Raspberry Pi OS bookworm); runs once, then removes",
        "# itself from cmdline.txt. Written by 'fieldlink firmware build'.",
        "set +e",
        f"HOST={q(boot.host)}",
        'CURRENT=$(tr -d " \\t\\n\\r" </etc/hostname)',
        "if [ -x /usr/lib/raspberrypi-sys-mods/imager_custom ]; then",
        '    /usr/lib/raspberrypi-sys-mods/imager_custom set_hostname "$HOST"',
        "else",
        '    echo "$HOST" >/etc/hostname',
        '    sed -i "s/127.0.1.1.*$CURRENT/127.0.1.1\\t$HOST/g" /etc/hosts',
        "fi",
        f"FIRSTUSER={q(boot.user)}",
        'if ! id "$FIRSTUSER" >/dev/null 2>&1; then',
        '    useradd -m -s /bin/bash -G sudo,gpio,spi,i2c,dialout,video "$FIRSTUSER"',
        "fi",
        'passwd -l "$FIRSTUSER"',
    ]
    if boot.ssh_keys:
        keys = "\n".join(key.strip() for key in boot.ssh_keys)
        lines += [
            'HOME_DIR=$(getent passwd "$FIRSTUSER" | cut -d: -f6)',
            'install -d -m 0700 -o "$FIRSTUSER" -g "$FIRSTUSER" "$HOME_DIR/.ssh"',
            f'printf "%s\\n" {q(keys)} >"$HOME_DIR/.ssh/authorized_keys"',
            'chown "$FIRSTUSER:$FIRSTUSER" "$HOME_DIR/.ssh/authorized_keys"',
            'chmod 0600 "$HOME_DIR/.ssh/authorized_keys"',
            "echo 'PasswordAuthentication no' >/etc/ssh/sshd_config.d/fieldlink.conf",
            "systemctl enable ssh",
        ]
    if boot.wifi_ssid is not None:
        ssid, psk = q(boot.wifi_ssid), q(boot.wifi_psk or "")
        lines += [
            "if [ -x /usr/lib/raspberrypi-sys-mods/imager_custom ]; then",
            f"    /usr/lib/raspberrypi-sys-mods/imager_custom set_wlan {ssid} {psk} "
            f"{q(boot.wifi_country)}",
            "else",  # no NetworkManager running yet: write its keyfile directly
            f"    raspi-config nonint do_wifi_country {q(boot.wifi_country)}",
            "    install -d -m 0700 /etc/NetworkManager/system-connections",
            f"    printf '%s' {q(_nm_keyfile(boot))} >{_NM_KEYFILE}",
            f"    chmod 0600 {_NM_KEYFILE}",
            "fi",
            # rfkill state is restored from files at boot; the command needs a running system.
            'for f in /var/lib/systemd/rfkill/*:wlan; do [ -e "$f" ] && echo 0 >"$f"; done',
        ]
    # firstrun.sh runs before D-Bus, so no timedatectl: files and unit links only.
    lines += [
        f"ln -sf /usr/share/zoneinfo/{q(boot.timezone)} /etc/localtime",
        f"echo {q(boot.timezone)} >/etc/timezone",
        "install -d /etc/systemd/timesyncd.conf.d",
        f"printf '[Time]\\nNTP=%s\\n' {q(' '.join(boot.ntp_servers))} "
        ">/etc/systemd/timesyncd.conf.d/fieldlink.conf",
        "systemctl enable systemd-timesyncd",
    ]
    for name, function in (("spi", "do_spi"), ("i2c", "do_i2c")):
        if name in boot.interfaces:
            lines.append(f"raspi-config nonint {function} 0")
    lines += [
        f"install -m 0644 {AGENT_DIR}/fieldlink-firstboot.service "
        "/etc/systemd/system/fieldlink-firstboot.service",
        "systemctl enable fieldlink-firstboot.service",
        f"rm -f {BOOT_MOUNT}/firstrun.sh",
        f"sed -i 's| systemd.run.*||g' {BOOT_MOUNT}/cmdline.txt",
        "exit 0",
    ]
    return "\n".join(lines) + "\n"


_NM_KEYFILE = "/etc/NetworkManager/system-connections/fieldlink-wifi.nmconnection"


def _nm_keyfile(boot: FirstBoot) -> str:
    security = (
        f"[wifi-security]\nkey-mgmt=wpa-psk\npsk={boot.wifi_psk}\n\n" if boot.wifi_psk else ""
    )
    return (
        "[connection]\nid=fieldlink-wifi\ntype=wifi\ninterface-name=wlan0\nautoconnect=true\n\n"
        f"[wifi]\nmode=infrastructure\nssid={boot.wifi_ssid}\n\n{security}"
        "[ipv4]\nmethod=auto\n\n[ipv6]\nmethod=auto\n"
    )


_FIRSTRUN_ARGS = (
    f"systemd.run={BOOT_MOUNT}/firstrun.sh",
    "systemd.run_success_action=reboot",
    "systemd.unit=kernel-command-line.target",
)


def cmdline_with_firstrun(cmdline: str) -> str:
    """``cmdline.txt`` (one line) with the arguments that run ``firstrun.sh`` once."""
    words = [w for w in cmdline.split() if not w.startswith("systemd.run")]
    words = [w for w in words if w != "systemd.unit=kernel-command-line.target"]
    return " ".join([*words, *_FIRSTRUN_ARGS]) + "\n"


_DTPARAMS = {"spi": "dtparam=spi=on", "i2c": "dtparam=i2c_arm=on"}


def enable_interfaces(config_txt: str, interfaces: Sequence[str]) -> str:
    """``config.txt`` with SPI/I2C switched on: a commented stock line is uncommented,
    otherwise the line is appended under ``[all]``. Idempotent.

    >>> enable_interfaces("#dtparam=spi=on\\n", ["spi"])
    'dtparam=spi=on\\n'
    """
    lines = config_txt.splitlines()
    missing = []
    for name in interfaces:
        wanted = _DTPARAMS[name]
        if wanted in (line.strip() for line in lines):
            continue
        commented = [
            i for i, line in enumerate(lines) if line.strip().lstrip("#").strip() == wanted
        ]
        if commented:
            lines[commented[0]] = wanted
        else:
            missing.append(wanted)
    if missing:
        lines += ["", "# added by fieldlink for the device's sensor profile", "[all]", *missing]
    return "\n".join(lines) + "\n"
