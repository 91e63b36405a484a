"""Device namespaces on the real kernel: veth reachability, both partition modes, healing.

Needs root and iproute2/nftables; without them these tests FAIL (scenario tier), they do not
skip.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from lab.network import DeviceNamespace, PartitionMode, namespaces_available

pytestmark = pytest.mark.scenario

_CLIENT = """
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))
    s.sendall(b"hello")
    print(s.recv(5).decode())
except OSError as exc:
    print(type(exc).__name__)
"""


@pytest.fixture
def net() -> Iterator[DeviceNamespace]:
    assert namespaces_available(), "scenario tests need root with ip, nft and tc installed"
    with DeviceNamespace.create(index=3) as namespace:
        yield namespace


@pytest.fixture
def echo_on(net: DeviceNamespace) -> Iterator[int]:
    server = socket.create_server((net.host_ip, 0))
    port = server.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(conn.recv(5))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield port
    server.close()


def _connect_from(net: DeviceNamespace, port: int, timeout: float = 2.0) -> str:
    out = subprocess.run(
        net.command([sys.executable, "-c", _CLIENT, net.host_ip, str(port), str(timeout)]),
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return out.stdout.strip()


def test_device_reaches_host_over_its_veth(net: DeviceNamespace, echo_on: int) -> None:
    assert _connect_from(net, echo_on) == "hello"


@pytest.mark.parametrize("mode", list(PartitionMode))
def test_partition_cuts_the_device_off_and_heal_restores_it(
    net: DeviceNamespace, echo_on: int, mode: PartitionMode
) -> None:
    net.partition(mode)
    assert _connect_from(net, echo_on, timeout=1.0) in {"TimeoutError", "OSError"}
    net.heal()
    assert _connect_from(net, echo_on) == "hello"


def test_rate_limit_applies_and_clears(net: DeviceNamespace, echo_on: int) -> None:
    net.limit_rate("1mbit")
    qdisc = subprocess.run(
        ["tc", "qdisc", "show", "dev", net.host_if], capture_output=True, text=True, check=True
    ).stdout
    assert "tbf" in qdisc
    assert _connect_from(net, echo_on) == "hello"
    net.clear_rate()
    qdisc = subprocess.run(
        ["tc", "qdisc", "show", "dev", net.host_if], capture_output=True, text=True, check=True
    ).stdout
    assert "tbf" not in qdisc


def test_teardown_removes_namespace_and_link() -> None:
    namespace = DeviceNamespace.create(index=4)
    namespace.teardown()
    assert (
        namespace.name
        not in subprocess.run(
            ["ip", "netns", "list"], capture_output=True, text=True, check=True
        ).stdout
    )
    assert (
        namespace.host_if
        not in subprocess.run(
            ["ip", "-o", "link"], capture_output=True, text=True, check=True
        ).stdout
    )
