"""A scenario's faults as a sorted list of timed actions on a running stack.

Each fault becomes a start action at ``at_s`` and, when it lasts, an end action at
``end_s``; at equal times ends run before starts so back-to-back faults do not overlap.

>>> from lab.replay.model import Scenario
>>> scenario = Scenario.model_validate({"name": "s", "duration_s": 60,
...     "faults": [{"kind": "bridge_kill", "at_s": 10, "duration_s": 5}]})
>>> [(a.at_s, a.label) for a in plan(scenario)]
[(10.0, 'bridge_kill start'), (15.0, 'bridge_kill end')]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lab.network import Faults

from .model import Fault, FaultKind, Scenario

if TYPE_CHECKING:
    from lab.stack import Stack

__all__ = ["Action", "apply", "plan"]


@dataclass(frozen=True, slots=True)
class Action:
    at_s: float
    label: str
    fault: Fault
    start: bool


def plan(scenario: Scenario) -> list[Action]:
    actions = []
    for fault in scenario.faults:
        if fault.kind is FaultKind.CLOCK_UNSYNCED:
            continue  # a boot condition, configured when the agents start
        actions.append(Action(fault.at_s, f"{fault.kind.value} start", fault, True))
        actions.append(Action(fault.end_s, f"{fault.kind.value} end", fault, False))
    return sorted(actions, key=lambda a: (a.at_s, a.start))


def _targets(stack: Stack, fault: Fault) -> list[str]:
    return fault.target.resolve(stack.devices) if fault.target is not None else []


def _server_toggle(stop: Callable[[], None], start: Callable[[], object]) -> Callable[[bool], None]:
    def run(starting: bool) -> None:
        if starting:
            stop()
        else:
            start()

    return run


def apply(stack: Stack, action: Action) -> None:
    """Carry out one action on ``stack``."""
    fault, starting = action.fault, action.start
    devices = _targets(stack, fault)
    kind = fault.kind
    if kind is FaultKind.PARTITION:
        if starting:
            stack.partition(devices, fault.mode)
        else:
            stack.heal(devices)
    elif kind is FaultKind.DEGRADE:
        if starting:
            shaped = fault.latency_ms or fault.jitter_ms or fault.loss
            faults = (
                Faults(latency_ms=fault.latency_ms, jitter_ms=fault.jitter_ms, loss=fault.loss)
                if shaped
                else None
            )
            stack.degrade(devices, faults, fault.rate)
        else:
            stack.clear_degrade(devices)
    elif kind is FaultKind.AGENT_KILL:
        for device in devices:
            (stack.kill_agent if starting else stack.start_agent)(device)
    elif kind is FaultKind.DISK_FULL:
        for device in devices:
            stack.set_buffer_cap(device, fault.buffer_cap_bytes if starting else None)
    else:
        _server_action(stack, kind)(starting)


def _server_action(stack: Stack, kind: FaultKind) -> Callable[[bool], None]:
    if kind is FaultKind.BROKER_RESTART:
        assert stack.mosquitto is not None
        return _server_toggle(stack.mosquitto.stop, stack.mosquitto.start)
    if kind is FaultKind.KAFKA_RESTART:
        assert stack.kafka is not None
        return _server_toggle(stack.kafka.stop, stack.kafka.start)
    if kind is FaultKind.INFLUX_OUTAGE:
        assert stack.influx is not None
        return _server_toggle(stack.influx.stop, stack.influx.start)
    if kind is FaultKind.WORKER_KILL:
        worker = stack.workers[0]
        return _server_toggle(worker.kill, worker.start)
    if kind is FaultKind.BRIDGE_KILL:
        assert stack.bridge is not None
        return _server_toggle(stack.bridge.kill, stack.bridge.start)
    raise ValueError(f"no action for {kind.value}")
