"""The integrity verdict of a replayed scenario: a pure function of what was generated,
what the agents say they dropped, and what the pipeline stored.

Invariants, each reported with its figures:

1. ``no_loss``: every generated reading is stored, except those the buffer policy dropped,
   and per device the missing count equals the agent's own drop counters exactly; dropped
   readings are routine samples, never events; nothing stored that was never generated; no
   stored reading differs from what was generated.
2. ``no_duplicates``: no (device, seq) stored twice.
3. ``aggregates``: every stored window equals a batch recomputation from the stored raw
   readings (count, min, max, mean, population stddev, last), and no window is missing.
4. ``alerts``: every episode opened once and closed at most once, and the episodes per
   (rule, device) are exactly the expected ones: a false outage alarm fails the run.
5. ``timing``: catch-up time after the last heal and live latency during the drain, checked
   against the scenario's bounds when it sets them.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

from fieldlink.messages import Reading, ReadingKind

from .model import Expectations

__all__ = [
    "AlertEvent",
    "InvariantResult",
    "Observations",
    "StoredAggregate",
    "StoredReading",
    "Verdict",
    "judge",
    "percentile",
    "recompute_aggregates",
]

_NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class StoredReading:
    device: str
    sensor: str
    seq: int
    ts_ns: int
    value: float | None


@dataclass(frozen=True, slots=True)
class StoredAggregate:
    device: str
    sensor: str
    window_s: int
    start_ns: int
    count: int
    min: float
    max: float
    mean: float
    stddev: float
    last: float


@dataclass(frozen=True, slots=True)
class AlertEvent:
    alert_id: str
    rule: str
    device: str
    state: str  # "open" | "close"
    ts_ns: int


@dataclass(frozen=True)
class Observations:
    generated: Mapping[str, Sequence[Reading]]
    """Ground truth: every reading each simulated device sampled, by device."""
    agent_drops: Mapping[str, int]
    """Each agent's own count of readings its buffer policy discarded."""
    stored: Sequence[StoredReading]
    aggregates: Sequence[StoredAggregate] = ()
    alerts: Sequence[AlertEvent] = ()
    window_sizes_s: tuple[int, ...] = (60, 3600)
    catch_up_s: float | None = None
    live_latency_ms: Sequence[float] = ()
    ts_tolerance_ns: int = 0


@dataclass(frozen=True)
class InvariantResult:
    name: str
    ok: bool
    detail: str
    figures: dict[str, float | int | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    invariants: tuple[InvariantResult, ...]

    @property
    def ok(self) -> bool:
        return all(result.ok for result in self.invariants)

    def to_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "invariants": [asdict(result) for result in self.invariants]}


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def judge(observations: Observations, expect: Expectations) -> Verdict:
    return Verdict(
        (
            _no_loss(observations, expect),
            _no_duplicates(observations, expect),
            _aggregates(observations, expect),
            _alerts(observations, expect),
            _timing(observations, expect),
        )
    )


def _no_loss(obs: Observations, expect: Expectations) -> InvariantResult:
    stored_by_key: dict[tuple[str, int], StoredReading] = {}
    for row in obs.stored:
        stored_by_key.setdefault((row.device, row.seq), row)
    generated_keys: set[tuple[str, int]] = set()
    missing_by_device: Counter[str] = Counter()
    dropped_events = corrupted = 0
    for device, readings in obs.generated.items():
        for reading in readings:
            key = (device, reading.seq)
            generated_keys.add(key)
            found = stored_by_key.get(key)
            if found is None:
                missing_by_device[device] += 1
                dropped_events += reading.kind is ReadingKind.EVENT
            elif not _same(reading, found, obs.ts_tolerance_ns):
                corrupted += 1
    phantoms = len(set(stored_by_key) - generated_keys)
    devices = set(obs.generated) | set(obs.agent_drops)
    unexplained = sum(abs(missing_by_device[d] - obs.agent_drops.get(d, 0)) for d in devices)
    lost = sum(max(0, missing_by_device[d] - obs.agent_drops.get(d, 0)) for d in devices)
    drops = sum(obs.agent_drops.values())
    problems = []
    if unexplained:
        problems.append(f"{unexplained} missing readings not matched by agent drop counters")
    if lost != expect.lost:
        problems.append(f"{lost} readings lost (expected {expect.lost})")
    if drops and not expect.policy_drops:
        problems.append(f"agents dropped {drops} readings but the scenario expects none")
    if dropped_events:
        problems.append(f"{dropped_events} event readings dropped; policy keeps events")
    if phantoms:
        problems.append(f"{phantoms} stored readings were never generated")
    if corrupted:
        problems.append(f"{corrupted} stored readings differ from what was generated")
    figures: dict[str, float | int | None] = {
        "generated": len(generated_keys),
        "stored_unique": len(stored_by_key),
        "missing": sum(missing_by_device.values()),
        "agent_drops": drops,
        "lost": lost,
        "unexplained": unexplained,
        "phantoms": phantoms,
        "corrupted": corrupted,
    }
    detail = "; ".join(problems) or (
        f"all {len(generated_keys)} readings stored"
        + (f" but the {drops} the buffer policy dropped, as counted" if drops else "")
    )
    return InvariantResult("no_loss", not problems, detail, figures)


def _same(reading: Reading, row: StoredReading, tolerance_ns: int) -> bool:
    if reading.sensor != row.sensor or abs(reading.ts_ns - row.ts_ns) > tolerance_ns:
        return False
    if reading.value is None or row.value is None:
        return reading.value is row.value
    return math.isclose(reading.value, row.value, rel_tol=1e-12, abs_tol=1e-12)


def _no_duplicates(obs: Observations, expect: Expectations) -> InvariantResult:
    counts = Counter((row.device, row.seq) for row in obs.stored)
    duplicates = sum(n - 1 for n in counts.values() if n > 1)
    ok = duplicates == expect.duplicates
    detail = f"{duplicates} duplicate rows" + ("" if ok else f" (expected {expect.duplicates})")
    return InvariantResult("no_duplicates", ok, detail, {"duplicates": duplicates})


def recompute_aggregates(
    readings: Iterable[StoredReading], window_sizes_s: Iterable[int]
) -> dict[tuple[str, str, int, int], StoredAggregate]:
    """Batch recomputation of every tumbling window from raw readings (deduplicated by
    (device, seq); readings without a value are not aggregated)."""
    unique: dict[tuple[str, int], StoredReading] = {}
    for row in readings:
        if row.value is not None:
            unique.setdefault((row.device, row.seq), row)
    result: dict[tuple[str, str, int, int], StoredAggregate] = {}
    for size in window_sizes_s:
        groups: dict[tuple[str, str, int], list[StoredReading]] = defaultdict(list)
        for row in unique.values():
            start = row.ts_ns // (size * _NS) * size * _NS
            groups[(row.device, row.sensor, start)].append(row)
        for (device, sensor, start), rows in groups.items():
            values = [r.value for r in rows if r.value is not None]
            mean = math.fsum(values) / len(values)
            variance = math.fsum((v - mean) ** 2 for v in values) / len(values)
            last = max(rows, key=lambda r: (r.ts_ns, r.seq)).value
            assert last is not None
            result[(device, sensor, size, start)] = StoredAggregate(
                device,
                sensor,
                size,
                start,
                len(values),
                min(values),
                max(values),
                mean,
                math.sqrt(variance),
                last,
            )
    return result


def _aggregates(obs: Observations, expect: Expectations) -> InvariantResult:
    if not expect.aggregates_match:
        return InvariantResult("aggregates", True, "not checked by this scenario")
    truth = recompute_aggregates(obs.stored, obs.window_sizes_s)
    stored = {(a.device, a.sensor, a.window_s, a.start_ns): a for a in obs.aggregates}
    missing = len(set(truth) - set(stored))
    extra = len(set(stored) - set(truth))
    wrong = sum(1 for key in set(truth) & set(stored) if not _agg_equal(truth[key], stored[key]))
    ok = not (missing or extra or wrong)
    detail = (
        f"all {len(truth)} windows equal a recomputation from raw"
        if ok
        else f"{wrong} windows differ, {missing} missing, {extra} without raw data"
    )
    return InvariantResult(
        "aggregates",
        ok,
        detail,
        {"windows": len(truth), "wrong": wrong, "missing": missing, "extra": extra},
    )


def _agg_equal(a: StoredAggregate, b: StoredAggregate) -> bool:
    if a.count != b.count:
        return False
    pairs = ((a.min, b.min), (a.max, b.max), (a.mean, b.mean), (a.last, b.last))
    if not all(math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9) for x, y in pairs):
        return False
    return math.isclose(a.stddev, b.stddev, rel_tol=1e-6, abs_tol=1e-9)


def _alerts(obs: Observations, expect: Expectations) -> InvariantResult:
    by_id: dict[str, list[AlertEvent]] = defaultdict(list)
    for event in obs.alerts:
        by_id[event.alert_id].append(event)
    malformed = 0
    episodes: Counter[tuple[str, str]] = Counter()
    for events in by_id.values():
        opens = sum(e.state == "open" for e in events)
        closes = sum(e.state == "close" for e in events)
        if opens != 1 or closes > 1:
            malformed += 1
        episodes[(events[0].rule, events[0].device)] += 1
    wanted = {(a.rule, a.device): a.episodes for a in expect.alerts}
    mismatched = [
        f"{rule}@{device}: {episodes.get((rule, device), 0)} episodes, expected {count}"
        for (rule, device), count in sorted(wanted.items())
        if episodes.get((rule, device), 0) != count
    ]
    unexpected = [
        f"{rule}@{device}: {count} unexpected episodes"
        for (rule, device), count in sorted(episodes.items())
        if (rule, device) not in wanted
    ]
    problems = [*mismatched, *unexpected]
    if malformed:
        problems.insert(0, f"{malformed} episodes did not open once and close at most once")
    return InvariantResult(
        "alerts",
        not problems,
        "; ".join(problems) or f"{sum(episodes.values())} episodes as expected",
        {
            "episodes": sum(episodes.values()),
            "malformed": malformed,
            "unexpected": len(unexpected),
            "mismatched": len(mismatched),
        },
    )


def _timing(obs: Observations, expect: Expectations) -> InvariantResult:
    p50 = percentile(obs.live_latency_ms, 50)
    p99 = percentile(obs.live_latency_ms, 99)
    problems = []
    if expect.catch_up_s_max is not None and (
        obs.catch_up_s is None or obs.catch_up_s > expect.catch_up_s_max
    ):
        problems.append(f"catch-up {obs.catch_up_s}s exceeds {expect.catch_up_s_max}s")
    if expect.live_p99_ms_max is not None and (p99 is None or p99 > expect.live_p99_ms_max):
        problems.append(f"live p99 {p99} ms exceeds {expect.live_p99_ms_max} ms")
    figures: dict[str, float | int | None] = {
        "catch_up_s": obs.catch_up_s,
        "live_p50_ms": p50,
        "live_p99_ms": p99,
        "latency_samples": len(obs.live_latency_ms),
    }
    detail = "; ".join(problems) or f"catch-up {obs.catch_up_s}s, live p99 {p99} ms"
    return InvariantResult("timing", not problems, detail, figures)
