"""The lab's Mosquitto: real per-device credentials and ACL from the device registry.

Devices are registered in a registry kept in the run directory (``firmware.registry``); the
registry writes the password file (its devices plus the bridge's credential) and the ACL
(each device confined to its own topics, the bridge reading all). Mosquitto listens on
loopback and on the host end of every device's veth pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from broker.mosquitto import Credential
from broker.mosquitto.config import BrokerConfig, Profile
from broker.mosquitto.credentials import generate_password
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
    broker_dir = directory / "broker"
    broker_dir.mkdir(parents=True, exist_ok=True)
    password_file = registry.write_password_file(broker_dir / "passwd", extra=[bridge])
    acl_file = registry.write_acl_file(broker_dir / "acl", bridge_users=[bridge.username])
    options = BrokerConfig.for_profile(
        Profile.LAB, password_file=password_file, acl_file=acl_file, tls=None
    ).render_options()
    return BrokerSetup(issued, bridge, options)
