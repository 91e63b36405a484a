"""The buffer cap override file: shrink a running agent's cap, then restore it."""

from __future__ import annotations

from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from edge.agent import Agent
from edge.buffer import MemoryBuffer
from edge.cap_override import CapOverride, parse_cap
from edge.clock import ManualClock
from edge.outputs import Outputs
from edge.publish import MqttLink
from edge.settings import BufferSettings, EdgeSettings, MqttSettings
from fieldlink.messages import DropReason, Reading

pytestmark = pytest.mark.unit

SIZE = 64 + len("t")


@pytest.mark.parametrize("text", ["", "abc", "-5", "1.5", "12 34"])
def test_anything_but_one_non_negative_integer_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="non-negative integer"):
        parse_cap(text)


def test_a_bad_file_changes_nothing_and_is_counted(tmp_path: Path) -> None:
    path = tmp_path / "cap"
    override = CapOverride(path, default=10_000)
    path.write_text("4096")
    assert override.poll() == 4096
    assert override.poll() is None, "unchanged"
    path.write_text("lots")
    assert override.poll() is None
    assert (override.current, override.bad_reads) == (4096, 1)
    path.unlink()
    assert override.poll() == 10_000


def test_the_agent_applies_and_restores_the_cap_without_a_restart(tmp_path: Path) -> None:
    cap_file = tmp_path / "cap"
    settings = EdgeSettings(
        device="pi-07",
        site="lab",
        buffer=BufferSettings(max_bytes=1024 * 1024, cap_override_path=cap_file),
    )
    buffer = MemoryBuffer(device="pi-07", max_bytes=settings.buffer.max_bytes)
    buffer.append(
        [Reading(device="pi-07", sensor="t", value=1.0, ts_ns=10**18, seq=s) for s in range(1_000)]
    )
    buffer.commit()
    agent = Agent(
        settings,
        buffer=buffer,
        link=MqttLink(MqttSettings(), client_id="pi-07", will=("w", b""), subscriptions=[]),
        drivers=[],
        clock=ManualClock(wall_ns=10**18, mono_ns=10**9, synced=True),
        outputs=Outputs([], pin_factory=MockFactory()),
    )
    agent.poll_cap_override()
    assert buffer.stats().max_bytes == 1024 * 1024, "no file: the setting"
    cap_file.write_text(f"{100 * SIZE}\n")
    agent.poll_cap_override()
    stats = buffer.stats()
    assert stats.max_bytes == 100 * SIZE
    assert stats.bytes <= 100 * SIZE
    assert stats.dropped == {DropReason.BUFFER_FULL: 1_000 - stats.depth}
    assert "fieldlink_edge_buffer_max_bytes 6500" in agent.metrics_text(agent.status())
    cap_file.unlink()
    agent.poll_cap_override()
    assert buffer.stats().max_bytes == 1024 * 1024, "restored"
    cap_file.write_text("nonsense")
    agent.poll_cap_override()
    assert buffer.stats().max_bytes == 1024 * 1024
    assert "fieldlink_edge_bad_cap_overrides_total 1" in agent.metrics_text(agent.status())
