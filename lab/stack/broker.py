"""The lab's Mosquitto: real per-device credentials and ACL from the device registry.

Devices are registered in a registry kept in the run directory (``firmware.registry``);
their issued passwords, plus a bridge credential, go through the broker tier's provisioning
(``broker.mosquitto.provision``) into a password file and ACL. Mosquitto listens on loopback
and on the host end of every device's veth pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from broker.mosquitto.config import BrokerConfig, Profile
from broker.mosquitto.credentials import Credential, generate_password
from broker.mosquitto.provision import DeviceEntry, write_broker_dir
from firmware.registry import Registry

__all__ = ["BrokerSetup", "provision_broker"]


@dataclass(frozen=True, slots=True)
class BrokerSetup:
    """Credentials handed out once, and the Mosquitto config body using them."""

    devices: dict[str, Credential]
    bridge: Credential
    config_body: str

    def with_listeners(self, port: int, hosts: Sequence[str]) -> str:
        """The config body plus a plain listener on each of ``hosts`` (veth host ends)."""
        return self.config_body + "".join(f"listener {port} {host}\n" for host in hosts)


def provision_broker(directory: Path, *, devices: Sequence[str], site: str) -> BrokerSetup:
    """Register ``devices`` and write the broker's password file and ACL."""
    registry = Registry(directory / "registry")
    issued = {}
    for device in devices:
        issued[device] = Credential(device, registry.add(device, site=site).password)
    bridge = Credential("fieldlink-bridge", generate_password())
    broker_dir = write_broker_dir(
        directory / "broker",
        bridge=bridge,
        devices=[DeviceEntry(credential, site=site) for credential in issued.values()],
        profile=Profile.LAB,
        tls_port=None,
    )
    options = BrokerConfig.for_profile(
        Profile.LAB,
        password_file=broker_dir.password_file,
        acl_file=broker_dir.acl_file,
        tls=None,
    ).render_options()
    return BrokerSetup(issued, bridge, options)
