"""Deadman and partition recovery: one episode per silence, no false outage after a partition."""

from __future__ import annotations

import pytest

from cloud.processing import DeviceLiveness
from cloud.settings import DeadmanRule
from fieldlink.messages import DeviceStatus

pytestmark = pytest.mark.unit

S = 1_000_000_000


def test_silent_device_opens_once_and_closes_once():
    live = DeviceLiveness(DeadmanRule(name="silent", silent_s=30))
    assert live.seen("pi", "lab", 0) == []
    assert live.check(29 * S) == []
    opened = live.check(30 * S)
    assert [(a.state.value, a.alert_id) for a in opened] == [("open", "silent:pi:-:0")]
    assert live.check(60 * S) == []  # still silent: no second open
    closed = live.seen("pi", "lab", 61 * S)
    assert [(a.state.value, a.alert_id, a.message) for a in closed] == [
        ("close", "silent:pi:-:0", "device back")
    ]
    assert live.seen("pi", "lab", 62 * S) == []


def test_return_with_backlog_reads_as_partition_recovery():
    live = DeviceLiveness(DeadmanRule(name="silent", silent_s=10))
    live.seen("pi", "lab", 0)
    live.check(10 * S)
    live.status("pi", "lab", backlog=1234)
    (closed,) = live.seen("pi", "lab", 11 * S)
    assert closed.message == "recovered after partition, 1234 readings buffered"
    assert closed.severity == "info"


def test_devices_never_seen_with_data_are_not_called_silent():
    live = DeviceLiveness(DeadmanRule(name="silent", silent_s=10))
    live.status("pi", "lab", backlog=0)
    assert live.check(10**6 * S) == []
    assert not live.online("pi", 0)


def _status(online: bool, backlog: int = 0) -> DeviceStatus:
    return DeviceStatus(
        device="pi", site="lab", boot_id="0" * 32, ts_ns=0, online=online, buffer_depth=backlog
    )


def test_an_offline_last_will_is_not_a_sign_of_life():
    live = DeviceLiveness(DeadmanRule(name="silent", silent_s=10))
    assert live.report(_status(online=True), 0) == []
    # The broker publishes the device's last will 5 s later: the device is gone, not alive.
    assert live.report(_status(online=False), 5 * S) == []
    opened = live.check(10 * S)
    assert [(a.state.value, a.alert_id) for a in opened] == [("open", "silent:pi:-:0")]
    (closed,) = live.report(_status(online=True, backlog=40), 30 * S)
    assert (closed.state.value, closed.message) == (
        "close",
        "recovered after partition, 40 readings buffered",
    )
