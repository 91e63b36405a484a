"""First-boot files: cloud-init YAML, the bookworm script, cmdline.txt and config.txt."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from firmware.cloudinit import (
    AGENT_DIR,
    FirstBoot,
    cmdline_with_firstrun,
    enable_interfaces,
    firstrun_script,
    install_script,
    meta_data,
    network_config,
    user_data,
)

pytestmark = pytest.mark.unit

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFieldlinkTestKey me@laptop"
BOOT = FirstBoot(
    hostname="pi-07",
    instance_id="fieldlink-pi-07-1",
    ssh_keys=(KEY,),
    wifi_ssid="farm net",
    wifi_psk='it\'s a "secret"',
    wifi_country="DE",
    ntp_servers=("ntp1.lan", "ntp2.lan"),
    interfaces=("spi",),
    wheel="fieldlink-0.1.0-py3-none-any.whl",
)


def test_user_data_sets_host_user_key_ntp_and_installs_the_agent():
    text = user_data(BOOT)
    assert text.startswith("#cloud-config\n")
    doc = yaml.safe_load(text)
    assert doc["hostname"] == "pi-07"
    assert doc["users"][0]["name"] == "pi"
    assert doc["users"][0]["ssh_authorized_keys"] == [KEY]
    assert doc["ssh_pwauth"] is False
    assert doc["ntp"] == {"enabled": True, "servers": ["ntp1.lan", "ntp2.lan"]}
    assert doc["rpi"]["interfaces"] == {"spi": True, "i2c": False}
    assert doc["runcmd"] == [["sh", f"{AGENT_DIR}/install-agent.sh"]]


def test_network_config_joins_wifi_with_country():
    doc = yaml.safe_load(network_config(BOOT))["network"]
    assert doc["version"] == 2
    wlan = doc["wifis"]["wlan0"]
    assert wlan["regulatory-domain"] == "DE"
    assert wlan["access-points"] == {"farm net": {"password": 'it\'s a "secret"'}}
    wired = yaml.safe_load(network_config(FirstBoot(hostname="pi-07")))["network"]
    assert "wifis" not in wired
    assert wired["ethernets"]["eth0"]["dhcp4"] is True


def test_meta_data_names_the_instance():
    assert yaml.safe_load(meta_data(BOOT)) == {
        "instance-id": "fieldlink-pi-07-1",
        "local-hostname": "pi-07",
    }


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"wifi_psk": "short"}, "8 to 63"),
        ({"wifi_country": "germany"}, "2 capital letters"),
        ({"ssh_keys": ("not a key",)}, "OpenSSH"),
        ({"hostname": "-bad"}, "host name"),
        ({"interfaces": ("uart",)}, "interfaces"),
    ],
)
def test_bad_first_boot_settings_are_refused(changes: dict[str, object], match: str):
    settings = {"hostname": "pi-07", "wifi_ssid": "net", "wifi_psk": "longenough"} | changes
    with pytest.raises(ValueError, match=match):
        FirstBoot(**settings)  # type: ignore[arg-type]


@pytest.mark.parametrize("script", [firstrun_script(BOOT), install_script(BOOT)])
def test_scripts_are_valid_shell(script: str):
    shell = shutil.which("bash")
    assert shell is not None
    subprocess.run([shell, "-n"], input=script.encode(), check=True)


def test_firstrun_quotes_the_passphrase_and_enables_spi():
    script = firstrun_script(BOOT)
    assert """'it'"'"'s a "secret"'""" in script
    assert "raspi-config nonint do_spi 0" in script
    assert "do_i2c" not in script


def test_cmdline_gets_firstrun_once():
    line = "console=tty1 root=PARTUUID=1-02 rootwait\n"
    once = cmdline_with_firstrun(line)
    assert once == cmdline_with_firstrun(once)
    assert once.count("\n") == 1
    assert once.startswith("console=tty1 root=PARTUUID=1-02 rootwait systemd.run=")


def test_config_txt_uncomments_or_appends_and_is_idempotent():
    stock = "#dtparam=i2c_arm=on\n#dtparam=spi=on\n[all]\n"
    both = enable_interfaces(stock, ["spi", "i2c"])
    assert both.splitlines()[:2] == ["dtparam=i2c_arm=on", "dtparam=spi=on"]
    assert enable_interfaces(both, ["spi", "i2c"]) == both
    appended = enable_interfaces("arm_64bit=1\n", ["spi"])
    assert appended.splitlines()[-2:] == ["[all]", "dtparam=spi=on"]
