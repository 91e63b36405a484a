"""What an agent reports about itself: DeviceStatus and its Prometheus metrics."""

from __future__ import annotations

import pytest
from gpiozero.pins.mock import MockFactory

from edge.agent import Agent
from edge.buffer import MemoryBuffer
from edge.clock import ManualClock
from edge.outputs import Outputs
from edge.publish import MqttLink
from edge.settings import EdgeSettings, MqttSettings
from fieldlink.messages import DropReason, Quality, Reading

pytestmark = pytest.mark.unit

NOW_NS = 1_763_700_000 * 10**9


def test_status_reports_backlog_drops_and_clock_state() -> None:
    settings = EdgeSettings(device="pi-07", site="lab")
    buffer = MemoryBuffer(device="pi-07", max_bytes=64 * 1024)
    buffer.append(
        [
            Reading(device="pi-07", sensor="t", value=1.0, ts_ns=NOW_NS - 60 * 10**9, seq=s)
            for s in range(2_000)
        ]
    )
    buffer.commit()
    link = MqttLink(MqttSettings(), client_id="pi-07", will=("w", b""), subscriptions=[])
    clock = ManualClock(wall_ns=NOW_NS, mono_ns=10**9, synced=True)
    agent = Agent(
        settings,
        buffer=buffer,
        link=link,
        drivers=[],
        clock=clock,
        outputs=Outputs([], pin_factory=MockFactory()),
    )
    status = agent.status()
    stats = buffer.stats()
    assert (status.online, status.buffer_depth, status.buffer_bytes) == (
        True,
        stats.depth,
        stats.bytes,
    )
    assert status.dropped == {DropReason.BUFFER_FULL: 2_000 - stats.depth}
    assert status.oldest_buffered_age_s == pytest.approx(60.0)
    assert status.last_seq == 1_999
    assert status.clock.synced
    text = agent.metrics_text(status)
    assert f"fieldlink_edge_buffer_depth {stats.depth}" in text
    assert f'fieldlink_edge_dropped_total{{reason="buffer_full"}} {2_000 - stats.depth}' in text
    assert not agent.status(online=False).online


def test_status_while_unsynced_counts_held_readings_and_gives_no_age() -> None:
    settings = EdgeSettings(device="pi-07", site="lab")
    buffer = MemoryBuffer(device="pi-07")
    unsynced = frozenset({Quality.CLOCK_UNSYNCED})
    buffer.append(
        [
            Reading(
                device="pi-07",
                sensor="t",
                value=1.0,
                ts_ns=5,
                mono_ns=5,
                seq=0,
                quality=unsynced,
                clock_synced=False,
            )
        ]
    )
    link = MqttLink(MqttSettings(), client_id="pi-07", will=("w", b""), subscriptions=[])
    agent = Agent(
        settings,
        buffer=buffer,
        link=link,
        drivers=[],
        clock=ManualClock(wall_ns=5, mono_ns=5, synced=False),
        outputs=Outputs([], pin_factory=MockFactory()),
    )
    status = agent.status()
    assert not status.clock.synced
    assert status.clock.unsynced_readings == 1
    assert status.oldest_buffered_age_s is None
