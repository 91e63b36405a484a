"""Replay a scenario against a real stack and judge it.

1. Start a :class:`~lab.stack.Stack` shaped by the scenario's fleet (seeded waveforms,
   scripted overrides, devices booting unsynced), each device in its own namespace when
   possible, else behind its own fault proxy.
2. Play the fault timeline (:mod:`.timeline`) while a sampler records buffer depth per
   device (from the buffer files), ingest rate and consumer lag (from the API) and live
   latency sample -> queryable (polling InfluxDB for each device's newest reading: the
   reading's age when first seen, an upper bound by at most one sample period).
3. Settle: wait for the backlogs to drain, stop the agents gracefully (they drain what is
   left), wait until InfluxDB holds what they delivered and the workers have no lag.
4. Gather ground truth (the agents' records and drop counters) and what InfluxDB stored,
   judge, and write the report.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lab.live import ApiPoller
from lab.settings import LabSettings
from lab.stack import SensorEvent, Stack, StackSpec

from .judge import AlertEvent, Observations, StoredReading, Verdict, judge
from .model import FaultKind, Scenario
from .report import Timelines, write_report
from .stored import InfluxStore
from .timeline import apply, plan
from .truth import DeviceTruth, buffer_depth, read_truth

__all__ = ["ReplayResult", "replay", "stack_spec"]

logger = logging.getLogger(__name__)

_SHAPES = {"step": "step", "spike": "spike", "stuck": "stuck", "dropout": "dropout"}


def stack_spec(
    scenario: Scenario,
    *,
    run_dir: Path | None,
    use_namespaces: bool | None,
    deadman_silent_s: float = 60.0,
) -> StackSpec:
    """The stack a scenario needs: its fleet, overrides, unsynced boots and proxies."""
    fleet = scenario.fleet
    ids = fleet.device_ids()
    unsynced: dict[str, float] = {}
    proxied: set[str] = set()
    for fault in scenario.faults:
        targets = fault.target.resolve(ids) if fault.target is not None else []
        if fault.kind is FaultKind.CLOCK_UNSYNCED:
            if fault.at_s != 0:
                raise ValueError("a clock_unsynced fault is a boot condition: at_s must be 0")
            unsynced.update(dict.fromkeys(targets, fault.duration_s))
        shaped = fault.latency_ms or fault.jitter_ms or fault.loss
        if (fault.kind is FaultKind.DEGRADE and shaped) or fault.mode == "proxy":
            proxied.update(targets)
    events = tuple(
        SensorEvent(o.device, o.sensor, o.at_s, o.duration_s, _SHAPES[o.shape], o.value)
        for o in fleet.overrides
    )
    return StackSpec(
        devices=fleet.devices,
        site=fleet.site,
        sample_hz=fleet.sample_hz,
        profile=fleet.profile,
        buffer_cap_bytes=fleet.buffer_cap_bytes,
        drain_max_rate=fleet.drain_max_rate,
        seed=scenario.seed,
        run_dir=run_dir,
        use_namespaces=use_namespaces,
        events=events,
        unsynced_s=unsynced,
        proxied=frozenset(proxied),
        deadman_silent_s=deadman_silent_s,
        status_interval_s=2.0,
    )


@dataclass
class _Samples:
    depth: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    ingest: list[tuple[float, float]] = field(default_factory=list)
    lag: list[tuple[float, float]] = field(default_factory=list)
    latency: list[tuple[float, float]] = field(default_factory=list)
    latency_ts_ns: list[int] = field(default_factory=list)
    """Event time of the reading behind each latency sample."""
    counts: list[tuple[float, int]] = field(default_factory=list)


class _Sampler(threading.Thread):
    """Records the timelines once a second until stopped."""

    def __init__(self, stack: Stack, store: InfluxStore, t0: float, interval_s: float = 1.0):
        super().__init__(name="sampler", daemon=True)
        self.stack, self.store, self.t0, self.interval_s = stack, store, t0, interval_s
        self.samples = _Samples()
        self.count_cut_ns: int | None = None
        self._halt = threading.Event()
        self._newest: dict[str, int] = {}
        self._last_fresh: tuple[float, int] | None = None
        self._poller = ApiPoller(stack.api_url, timeout_s=3)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=30)

    def run(self) -> None:
        while not self._halt.wait(self.interval_s):
            try:
                self._sample()
            except Exception as exc:  # noqa: BLE001 - a missed sample is not a failed run
                logger.debug("sampler: %s", exc)

    def _sample(self) -> None:
        t = time.monotonic() - self.t0
        for device, config in self.stack.agent_configs.items():
            depth = buffer_depth(config.buffer_path)
            if depth is not None:
                self.samples.depth.setdefault(device, []).append((t, depth))
        snapshot = self._poller.poll()
        if snapshot.error is None:
            if snapshot.consumer_lag is not None:
                self.samples.lag.append((t, snapshot.consumer_lag))
            if self._last_fresh is not None and t > self._last_fresh[0]:
                rate = (snapshot.fresh - self._last_fresh[1]) / (t - self._last_fresh[0])
                if rate >= 0:
                    self.samples.ingest.append((t, rate))
            self._last_fresh = (t, snapshot.fresh)
        now_ns = time.time_ns()
        newest = self.store.newest_ts_by_device()
        for device, ts_ns in newest.items():
            if ts_ns != self._newest.get(device):
                self.samples.latency.append((t, (now_ns - ts_ns) / 1e6))
                self.samples.latency_ts_ns.append(ts_ns)
        self._newest.update(newest)
        if self.count_cut_ns is not None:
            self.samples.counts.append((t, self.store.count_until(self.count_cut_ns)))


@dataclass(frozen=True)
class ReplayResult:
    scenario: Scenario
    verdict: Verdict
    mode: str
    json_path: Path
    html_path: Path
    sampling_s: float = 0.0
    """How long the agents sampled (start of the timeline to the fleet's stop)."""


def _wait(predicate: Callable[[], bool], timeout_s: float, interval_s: float = 1.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return predicate()


def replay(
    scenario: Scenario,
    *,
    out_dir: Path,
    lab: LabSettings | None = None,
    use_namespaces: bool | None = None,
    deadman_silent_s: float = 60.0,
    on_step: Callable[[str], None] = lambda _: None,
) -> ReplayResult:
    """Run ``scenario`` on a fresh stack, judge it and write the report into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out_dir / "run", ignore_errors=True)  # a fresh stack for every replay
    spec = stack_spec(
        scenario,
        run_dir=out_dir / "run",
        use_namespaces=use_namespaces,
        deadman_silent_s=deadman_silent_s,
    )
    stack = Stack(spec, lab=lab, on_step=on_step)
    with stack:
        assert stack.influx is not None
        creds = stack.influx.credentials
        store = InfluxStore(stack.influx.url, token=creds.token, org=creds.org)
        try:
            return _run(scenario, stack, store, out_dir, on_step)
        finally:
            store.close()


def _run(
    scenario: Scenario,
    stack: Stack,
    store: InfluxStore,
    out_dir: Path,
    on_step: Callable[[str], None],
) -> ReplayResult:
    t0 = time.monotonic()
    wall0_ns = time.time_ns()
    sampler = _Sampler(stack, store, t0)
    sampler.start()
    last_end_s = max((f.end_s for f in scenario.faults if f.end_s > 0), default=None)
    heal_ns: int | None = None
    try:
        on_step(f"playing {len(scenario.faults)} faults over {scenario.duration_s:.0f} s")
        for action in plan(scenario):
            delay = t0 + action.at_s - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            on_step(f"t={time.monotonic() - t0:6.1f}s {action.label}")
            apply(stack, action)
            if last_end_s is not None and not action.start and action.fault.end_s == last_end_s:
                heal_ns = time.time_ns()
                sampler.count_cut_ns = heal_ns
        delay = t0 + scenario.duration_s - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        heal_t = None if heal_ns is None else (heal_ns - wall0_ns) / 1e9
        on_step("settling: waiting for the edge backlogs to drain")
        settle_cap = max(scenario.settle_s, 60.0)
        live = max(5, int(stack.spec.sample_hz * 2))

        def drained() -> bool:
            depths = [buffer_depth(c.buffer_path) or 0 for c in stack.agent_configs.values()]
            return max(depths) <= live

        _wait(drained, settle_cap)
        on_step("stopping the agents (they drain what is left)")
        fleet_stop_ns = time.time_ns()
        sampling_s = (fleet_stop_ns - wall0_ns) / 1e9  # on the sampler's clock, from t0
        stack.stop_agents()
        truths = {
            device: read_truth(device, config.buffer_path)
            for device, config in stack.agent_configs.items()
        }
        left = {d: buffer_depth(c.buffer_path) or 0 for d, c in stack.agent_configs.items()}
        expected = sum(len(t.generated) - t.record_drops for t in truths.values())
        on_step(f"waiting until InfluxDB holds the {expected} delivered readings")
        _wait(lambda: store.count_until(time.time_ns() + 3600 * 10**9) >= expected, settle_cap)
        poller = ApiPoller(stack.api_url, timeout_s=3)
        _wait(lambda: poller.poll().consumer_lag == 0, 30)
        time.sleep(3)  # the last aggregates are written after the raw points
    finally:
        sampler.stop()
    on_step("gathering what was stored")
    stored = store.readings()
    alerts, after_stop = _split_alerts(store.alerts(), fleet_stop_ns)
    observations = Observations(
        generated={d: t.generated for d, t in truths.items()},
        agent_drops={d: t.record_drops for d, t in truths.items()},
        stored=stored,
        aggregates=store.aggregates((60, 3600)),
        alerts=alerts,
        catch_up_s=_catch_up(sampler.samples, truths, stored, heal_ns, heal_t, t0, wall0_ns),
        live_latency_ms=_drain_latency(sampler.samples, heal_ns, sampling_s),
    )
    expect = scenario.expect
    verdict = judge(observations, expect)
    timelines = Timelines(
        buffer_depth=sampler.samples.depth,
        ingest_rate=sampler.samples.ingest,
        consumer_lag=sampler.samples.lag,
        live_latency_ms=sampler.samples.latency,
    )
    extra = {
        "heal_at_s": heal_t,
        "sampling_s": sampling_s,
        "deadman_silent_s": stack.spec.deadman_silent_s,
        "expected_alerts": [a.model_dump() for a in expect.alerts],
        "left_in_buffers_at_stop": left,
        "alert_events": [asdict(a) for a in alerts],
        "alert_episodes_after_fleet_stop": sorted({a.alert_id for a in after_stop}),
        "drops_by_device": {d: dict(t.dropped) for d, t in truths.items()},
        "unstored_disk_full": {d: t.unstored for d, t in truths.items()},
        "live_latency_definition": "age of each device's newest stored reading when the "
        "sampler first saw it, while the fleet streamed (after a 10 s warm-up, or of readings "
        "sampled after the heal); an upper bound, at most one publish interval above the truth",
    }
    json_path, html_path = write_report(
        out_dir, scenario, verdict, timelines, mode=stack.mode, extra=extra
    )
    return ReplayResult(scenario, verdict, stack.mode, json_path, html_path, sampling_s)


def _split_alerts(
    events: list[AlertEvent], fleet_stop_ns: int
) -> tuple[list[AlertEvent], list[AlertEvent]]:
    """Episodes of the run, and those opened after the lab stopped the fleet (the deadman
    sees every device fall silent then: an artefact of ending the run, not of the scenario)."""
    late = {e.alert_id for e in events if e.state == "open" and e.ts_ns >= fleet_stop_ns}
    return (
        [e for e in events if e.alert_id not in late],
        [e for e in events if e.alert_id in late],
    )


def _catch_up(
    samples: _Samples,
    truths: dict[str, DeviceTruth],
    stored: list[StoredReading],
    heal_ns: int | None,
    heal_t: float | None,
    t0: float,
    wall0_ns: int,
) -> float | None:
    """Seconds from the last heal until InfluxDB held every reading sampled before it."""
    if heal_ns is None or heal_t is None:
        return None
    stored_keys = {(r.device, r.seq) for r in stored}
    target = sum(
        1
        for device, truth in truths.items()
        for r in truth.generated
        if r.ts_ns < heal_ns and (device, r.seq) in stored_keys
    )
    for t, count in samples.counts:
        if count >= target:
            return max(0.0, t - heal_t)
    return None


def _drain_latency(samples: _Samples, heal_ns: int | None, stop_t: float) -> list[float]:
    """Live latency during the drain: samples of readings taken after the last heal (a
    backlog reading seen after the heal is drain progress, not live latency), or every
    sample after a 10 s warm-up when nothing healed; either way only while the fleet
    streams (once the agents are being stopped one by one, a device's last readings wait
    for its shutdown, which is not the pipeline's latency)."""
    if heal_ns is None:
        return [ms for t, ms in samples.latency if 10.0 <= t < stop_t]
    return [
        ms
        for (t, ms), ts_ns in zip(samples.latency, samples.latency_ts_ns, strict=True)
        if ts_ns >= heal_ns and t < stop_t
    ]
