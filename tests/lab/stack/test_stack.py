"""The whole stack with two simulated devices: data reaches the API; stop leaves nothing."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from lab.live import ApiPoller
from lab.stack import Stack, StackSpec

pytestmark = pytest.mark.scenario


def test_stack_runs_a_fleet_and_stops_clean(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    report = {"scenario": {"name": "flaky-link"}, "mode": "namespaces", "verdict": {"ok": True}}
    (reports / "replay-1" / "flaky-link").mkdir(parents=True)
    (reports / "replay-1" / "flaky-link" / "report.json").write_text(json.dumps(report))
    stack = Stack(StackSpec(devices=2, sample_hz=2, run_dir=tmp_path / "run", reports_dir=reports))
    with stack:
        # The dashboard lists the replay reports of the lab's reports folder.
        listed = ApiPoller(stack.api_url).get("/reports")
        assert listed["configured"] is True
        assert [(r["path"], r["scenario"], r["ok"]) for r in listed["reports"]] == [
            ("replay-1/flaky-link", "flaky-link", True)
        ]
        assert stack.mode == "namespaces"
        poller = ApiPoller(stack.api_url)
        deadline = time.monotonic() + 90
        snapshot = poller.poll()
        while time.monotonic() < deadline and (snapshot.online < 2 or snapshot.fresh == 0):
            time.sleep(2)
            snapshot = poller.poll()
        assert snapshot.online == 2, snapshot
        assert snapshot.fresh > 0
        pids = [p.pid for p in stack.agents.values()]
        namespaces = [ns.name for ns in stack.namespaces.values()]
    assert not [pid for pid in pids if pid is not None and psutil.pid_exists(pid)]
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not [name for name in namespaces if name in listed]
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert f"fl{stack.token}h" not in links
