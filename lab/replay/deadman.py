"""The deadman episodes a scenario implies, derived from its timeline.

A partition longer than the deadman's ``silent_s`` silences a device: the cloud opens one
"device silent" episode and closes it once ("recovered after partition") when the device
returns. Scenarios list the alerts their story is about (an overheat); these silences are
added here so the judge checks them too, exactly: one episode per silence, never more.

>>> from lab.replay.model import Scenario
>>> s = Scenario.model_validate({"name": "s", "duration_s": 400, "fleet": {"devices": 2},
...     "faults": [{"kind": "partition", "at_s": 10, "duration_s": 300,
...                 "target": {"devices": ["dev-001"]}}]})
>>> [(a.rule, a.device, a.episodes) for a in with_deadman(s, silent_s=60).alerts]
[('deadman', 'dev-001', 1)]
"""

from __future__ import annotations

from collections import defaultdict

from .model import AlertExpectation, Expectations, FaultKind, Scenario

__all__ = ["with_deadman"]


def with_deadman(scenario: Scenario, *, silent_s: float, rule: str = "deadman") -> Expectations:
    """``scenario.expect`` plus one deadman episode per partition longer than ``silent_s``
    (overlapping partitions of a device count once). Unchanged if it lists the rule."""
    expect = scenario.expect
    if any(a.rule == rule for a in expect.alerts):
        return expect
    ids = scenario.fleet.device_ids()
    windows: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for fault in scenario.faults:
        if fault.kind is FaultKind.PARTITION and fault.target is not None:
            for device in fault.target.resolve(ids):
                windows[device].append((fault.at_s, fault.end_s))
    extra = []
    for device in sorted(windows):
        merged: list[tuple[float, float]] = []
        for start, end in sorted(windows[device]):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        episodes = sum(1 for start, end in merged if end - start > silent_s)
        if episodes:
            extra.append(AlertExpectation(rule=rule, device=device, episodes=episodes))
    return expect.model_copy(update={"alerts": (*expect.alerts, *extra)})
