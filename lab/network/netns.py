"""A device's own network: a namespace, a veth pair to the host, and the faults we inject.

Addresses live only on the veth pair (a /30 per device), so no traffic leaves the machine:
the device reaches the host-side address of its pair, where the lab's Mosquitto listens.

>>> with DeviceNamespace.create(index=1) as net:          # doctest: +SKIP
...     subprocess.run(net.command(["fieldlink", "edge", "run", ...]))
...     net.partition(PartitionMode.DROP)                  # the link hangs
...     net.heal()
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import shutil
import subprocess
from enum import StrEnum
from types import TracebackType
from typing import Self

from fieldlink.errors import FieldlinkError

__all__ = ["DeviceNamespace", "NetworkError", "PartitionMode", "namespaces_available"]

_TABLE = "fieldlink_fault"


class NetworkError(FieldlinkError, OSError):
    """A namespace, link or firewall operation failed; the message has the command's error."""


class PartitionMode(StrEnum):
    LINK_DOWN = "link_down"
    """The veth link goes down: the device sees no carrier, connections fail."""
    DROP = "drop"
    """nftables drops every packet in both directions: connections hang, the nasty case."""


def namespaces_available() -> bool:
    """True when we can create namespaces and veth pairs (root, iproute2 and nft present)."""
    return os.geteuid() == 0 and all(shutil.which(tool) for tool in ("ip", "nft", "tc"))


def _run(*argv: str) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise NetworkError(f"{' '.join(argv)}: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout


def _pick_subnet() -> ipaddress.IPv4Network:
    """A /16 in 10.200.0.0-10.250.255.255 not already on any interface of this host."""
    used = _run("ip", "-4", "-o", "addr", "show")
    for _ in range(64):
        candidate = ipaddress.IPv4Network(f"10.{200 + secrets.randbelow(51)}.0.0/16")
        if f" 10.{candidate.network_address.packed[1]}." not in used:
            return candidate
    raise NetworkError("no free 10.200-250.0.0/16 subnet for lab namespaces")


class DeviceNamespace:
    """One namespace with a veth pair; ``index`` picks the device's /30 inside ``subnet``."""

    def __init__(self, index: int, *, subnet: ipaddress.IPv4Network, token: str):
        if not 0 <= index < subnet.num_addresses // 4:
            raise ValueError(f"index {index} does not fit in {subnet}")
        self.index = index
        self.token = token
        self.name = f"fl-{token}-{index}"
        self.host_if = f"fl{token}h{index}"
        self.ns_if = f"fl{token}n{index}"
        base = subnet.network_address + 4 * index
        self.host_ip = str(base + 1)
        self.ns_ip = str(base + 2)
        self._created = False

    @classmethod
    def create(
        cls, index: int, *, subnet: ipaddress.IPv4Network | None = None, token: str | None = None
    ) -> Self:
        net = cls(index, subnet=subnet or _pick_subnet(), token=token or secrets.token_hex(2))
        net.setup()
        return net

    def command(self, argv: list[str]) -> list[str]:
        """``argv`` run inside the namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def setup(self) -> None:
        try:
            _run("ip", "netns", "add", self.name)
            self._created = True
            _run("ip", "-n", self.name, "link", "set", "lo", "up")
            _run("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
            _run("ip", "link", "set", self.ns_if, "netns", self.name)
            _run("ip", "addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
            _run("ip", "link", "set", self.host_if, "up")
            _run("ip", "-n", self.name, "addr", "add", f"{self.ns_ip}/30", "dev", self.ns_if)
            _run("ip", "-n", self.name, "link", "set", self.ns_if, "up")
            _run("ip", "-n", self.name, "route", "add", "default", "via", self.host_ip)
        except NetworkError:
            self.teardown()
            raise

    def partition(self, mode: PartitionMode) -> None:
        if mode is PartitionMode.LINK_DOWN:
            _run("ip", "link", "set", self.host_if, "down")
        else:
            self._nft_drop()

    def _nft_drop(self) -> None:
        rules = (
            f"table inet {_TABLE} {{\n"
            "  chain input {\n"
            "    type filter hook input priority -100; policy drop; iif lo accept;\n"
            "  }\n"
            "  chain output {\n"
            "    type filter hook output priority -100; policy drop; oif lo accept;\n"
            "  }\n"
            "}\n"
        )
        result = subprocess.run(
            self.command(["nft", "-f", "-"]),
            input=rules,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise NetworkError(f"nft drop rules in {self.name}: {result.stderr.strip()}")

    def heal(self) -> None:
        """Undo any partition: link up, drop rules removed. Safe to call when healthy."""
        _run("ip", "link", "set", self.host_if, "up")
        tables = _run(*self.command(["nft", "list", "tables"]))
        if _TABLE in tables:
            _run(*self.command(["nft", "delete", "table", "inet", _TABLE]))

    def limit_rate(self, rate: str, burst: str = "32kbit", latency: str = "400ms") -> None:
        """Cap bandwidth both ways with tc tbf (e.g. ``rate="256kbit"``)."""
        _run(
            "tc",
            "qdisc",
            "replace",
            "dev",
            self.host_if,
            "root",
            "tbf",
            "rate",
            rate,
            "burst",
            burst,
            "latency",
            latency,
        )
        _run(
            *self.command(
                [
                    "tc",
                    "qdisc",
                    "replace",
                    "dev",
                    self.ns_if,
                    "root",
                    "tbf",
                    "rate",
                    rate,
                    "burst",
                    burst,
                    "latency",
                    latency,
                ]
            )
        )

    def clear_rate(self) -> None:
        subprocess.run(
            ["tc", "qdisc", "del", "dev", self.host_if, "root"],
            capture_output=True,
            check=False,
        )
        subprocess.run(
            self.command(["tc", "qdisc", "del", "dev", self.ns_if, "root"]),
            capture_output=True,
            check=False,
        )

    def teardown(self) -> None:
        # Deleting the namespace destroys its veth end and with it the host end.
        subprocess.run(
            ["ip", "link", "del", self.host_if],
            capture_output=True,
            check=False,
        )
        if self._created:
            subprocess.run(
                ["ip", "netns", "del", self.name],
                capture_output=True,
                check=False,
            )
            self._created = False

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.teardown()
