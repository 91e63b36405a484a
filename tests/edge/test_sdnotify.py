from __future__ import annotations

import configparser
import socket
from pathlib import Path

import pytest

from edge.sdnotify import Notifier

pytestmark = pytest.mark.unit

UNIT = Path(__file__).parents[2] / "edge" / "systemd" / "fieldlink-edge.service"


def test_notifications_reach_the_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        notifier = Notifier(from_env=True)
        assert notifier.notify("READY=1")
        assert notifier.notify("WATCHDOG=1")
        assert server.recv(64) == b"READY=1"
        assert server.recv(64) == b"WATCHDOG=1"


def test_outside_systemd_it_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not Notifier(from_env=True).notify("READY=1")


def test_the_unit_restarts_always_with_a_watchdog() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(UNIT)
    service = unit["Service"]
    assert service["Type"] == "notify"
    assert service["Restart"] == "always"
    assert int(service["WatchdogSec"]) > 1
    assert service["NoNewPrivileges"] == "yes"
    assert "edge run --config" in service["ExecStart"]
