"""deploy/k8s/site-broker/mosquitto-site.conf, run by the real Mosquitto: a site broker with
its devices from the registry, bridged upstream over TLS to a broker provisioned as compose
provisions it, with the upstream grant the file's comments document."""

from __future__ import annotations

import getpass
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from broker.mosquitto import hash_password, write_tls_files
from firmware.registry import Registry
from lab.services._process import free_port

from ._provision import run_provision, serve, serve_provisioned
from .conftest import REPO
from .test_provision_broker import BRIDGE_PASSWORD, Session

pytestmark = pytest.mark.integration

SITE_CONF = REPO / "deploy" / "k8s" / "site-broker" / "mosquitto-site.conf"
SITE_PASSWORD = "site-secret"


def documented_upstream_grant() -> str:
    """The ACL block for the site's upstream user, as the file's header comments give it."""
    lines = SITE_CONF.read_text().splitlines()
    start = lines.index("#   user site-farm")
    block = []
    for line in lines[start:]:
        if not line.startswith("#   "):
            break
        block.append(line.removeprefix("#   "))
    return "\n".join(block) + "\n"


class Stack:
    def __init__(self, upstream_port: int, site_port: int, site_ca: Path, device_pw: str):
        self.upstream_port = upstream_port
        self.site_port = site_port
        self.site_ca = site_ca
        self.device_password = device_pw


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    upstream = tmp_path / "upstream"
    assert run_provision(upstream, devices=0, bridge_password=BRIDGE_PASSWORD) == 0
    broker = upstream / "broker"
    with (broker / "passwd").open("a") as passwd:
        passwd.write(hash_password("site-farm", SITE_PASSWORD) + "\n")
    with (broker / "acl").open("a") as acl:
        acl.write("\n" + documented_upstream_grant())

    site = tmp_path / "site"
    registry = Registry(site / "state")
    issued = registry.add("pi-01", site="farm")
    tls = write_tls_files(site / "tls", hostnames=("localhost",))
    (site / "data").mkdir(parents=True)
    up_port, up_tls_port, site_port = free_port(), free_port(), free_port()
    stack = Stack(up_tls_port, site_port, tls.ca_cert, issued.password)
    with serve_provisioned(upstream, up_port, up_tls_port):
        stack.upstream_port = up_port
        replacements = {
            # Mosquitto started as root drops to `mosquitto`; here it stays who we are.
            "per_listener_settings false": f"user {getpass.getuser()}\nper_listener_settings false",
            "/var/lib/mosquitto/": f"{site / 'data'}/",
            "/etc/mosquitto/fieldlink/passwd": str(registry.password_file),
            "/etc/mosquitto/fieldlink/acl": str(registry.acl_file),
            "/etc/mosquitto/fieldlink/tls/": f"{site / 'tls'}/",
            "/etc/mosquitto/fieldlink/upstream-ca.crt": str(broker / "tls" / "ca.crt"),
            "listener 8883 0.0.0.0": f"listener {site_port} 127.0.0.1",
            "address mqtt.example.org:8883": f"address localhost:{up_tls_port}",
            "remote_password CHANGE-ME": f"remote_password {SITE_PASSWORD}",
        }
        with serve(site, SITE_CONF.read_text(), replacements):
            yield stack


def test_site_devices_reach_the_bridge_and_commands_reach_them(stack: Stack) -> None:
    bridge = Session(stack.upstream_port, "fieldlink-bridge", BRIDGE_PASSWORD)
    device = Session(stack.site_port, "pi-01", stack.device_password, ca=stack.site_ca)
    try:
        subscribed = threading.Event()
        bridge.client.on_subscribe = lambda *args: subscribed.set()
        bridge.client.subscribe("fieldlink/+/+/telemetry", qos=1)
        assert subscribed.wait(10)
        device_subscribed = threading.Event()
        device.client.on_subscribe = lambda *args: device_subscribed.set()
        device.client.subscribe("fieldlink/farm/pi-01/commands", qos=1)
        assert device_subscribed.wait(10)

        reason = device.publish("fieldlink/farm/pi-01/telemetry")
        assert reason is not None
        assert not reason.is_failure
        assert bridge.got_message.wait(15), "telemetry never crossed the site bridge"
        assert bridge.received == ["fieldlink/farm/pi-01/telemetry"]

        # The site bridge subscribed upstream right after connecting, before it forwarded the
        # telemetry queued at the site: the command has a route now.
        command = bridge.publish("fieldlink/farm/pi-01/commands")
        assert command is not None
        assert not command.is_failure
        assert device.got_message.wait(15), "the command never reached the site's device"
        assert device.received == ["fieldlink/farm/pi-01/commands"]
    finally:
        device.close()
        bridge.close()


def test_the_site_credential_cannot_write_another_site(stack: Stack) -> None:
    intruder = Session(stack.upstream_port, "site-farm", SITE_PASSWORD, client_id="intruder")
    try:
        refused = intruder.publish("fieldlink/orchard/pi-09/telemetry")
        assert refused is not None
        assert refused.value == 135
    finally:
        intruder.close()
