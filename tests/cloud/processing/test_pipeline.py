"""The whole pure core: any permutation with any duplication gives identical aggregates,
identical alert episodes and every reading exactly once; crashes mid-commit replay cleanly."""

from __future__ import annotations

import math
import statistics
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cloud.handlers import Overlay
from cloud.processing import Outcome, Processor, window_start
from cloud.processing.pipeline import LANE_KEYS
from cloud.settings import AlertRules, CloudSettings, RateRule, ThresholdRule
from fieldlink.messages import Reading, ReadingBatch

from .streams import BOOT, NS, T0, batch, scrambled, streams

pytestmark = pytest.mark.unit

NOW = T0 + 6 * 3600 * NS  # every generated reading is within the allowed lateness
RULES = AlertRules(
    rules=(
        ThresholdRule(name="hot", sensor="temp", above=60, clear=40, min_duration_s=30),
        ThresholdRule(name="dry", sensor="hum", below=20, clear=30),
        RateRule(name="jump", sensor="temp", max_per_s=5),
    )
)
SETTINGS = CloudSettings.load(window_widths_s=(60, 3600), alerts=RULES)
CHUNK = 4  # seqs per held-reading entry: small, so records touch several


def make(store: Any) -> Processor:
    return Processor(SETTINGS, store=store, hold_chunk=CHUNK)


def run(
    batches: list[ReadingBatch], *, flush: bool = True, step_ns: int = 0
) -> tuple[Processor, list[Outcome]]:
    """Each batch in turn, the n-th at processing time ``NOW + n * step_ns``."""
    processor = make({})
    outcomes = []
    for offset, item in enumerate(batches):
        outcome = processor.process(item, now_ns=NOW + offset * step_ns, offset=offset)
        processor.commit(outcome)
        outcomes.append(outcome)
    if flush:
        end = processor.flush("pi", batches[0].boot_id, "lab", NOW + 10**12, len(batches))
        outcomes.append(end)
    return processor, outcomes


def entries(store: Any, prefix: str) -> dict[str, Any]:
    """State entries under a key prefix, without their offset stamps."""
    return {
        k: {f: v for f, v in value.items() if f not in LANE_KEYS}
        for k, value in store.items()
        if k.startswith(prefix) and value is not None
    }


def same_state(got: Any, want: Any) -> None:
    """Alert state, held readings and dedup trackers equal (windows: see same_stats)."""
    for prefix in ("a|", "h|", "d|"):
        assert entries(got, prefix) == entries(want, prefix), prefix


def windows(processor: Processor) -> dict[str, Any]:
    return {k: v["s"] for k, v in processor.store.items() if k.startswith("w|")}


def same_stats(a: list[Any], b: list[Any]) -> bool:
    count, mean, m2, lo, hi, last_ts, last_seq, last = a
    return (count, lo, hi, last_ts, last_seq, last) == (b[0], *b[3:]) and all(
        math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-6) for x, y in ((mean, b[1]), (m2, b[2]))
    )


def episodes(outcomes: list[Outcome]) -> list[tuple[str, str, int]]:
    return [(a.alert_id, a.state.value, a.ts_ns) for o in outcomes for a in o.alerts]


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.booleans())
def test_any_permutation_and_duplication_gives_identical_results(data: st.DataObject, gaps: bool):
    readings = data.draw(streams(gaps=gaps))
    reference, ref_outcomes = run([batch(readings)])
    batches = data.draw(scrambled(readings))
    processor, outcomes = run(batches)

    stored = [r.seq for o in outcomes for r in o.raw]
    assert sorted(stored) == [r.seq for r in readings]  # every reading once, none twice
    delivered = sum(len(b.readings) for b in batches)
    assert sum(o.duplicates for o in outcomes) == delivered - len(readings)
    got, want = windows(processor), windows(reference)
    assert got.keys() == want.keys()
    assert all(same_stats(got[k], want[k]) for k in want)
    assert episodes(outcomes) == episodes(ref_outcomes)
    event(f"alert transitions: {min(len(episodes(outcomes)), 3)}+")
    assert [o.missing for o in outcomes][-1] == [o.missing for o in ref_outcomes][-1]


@given(streams(max_size=80))
def test_aggregates_equal_a_batch_recomputation(readings: list[Reading]):
    processor, _ = run([batch(readings)])
    for width in (60, 3600):
        groups: dict[tuple[str, int], list[Reading]] = {}
        for r in readings:
            groups.setdefault((r.sensor, window_start(r.ts_ns, width)), []).append(r)
        for (sensor, start), members in groups.items():
            stats = processor.window("pi", sensor, width, start)
            assert stats is not None
            values = [m.value for m in members if m.value is not None]
            assert stats.count == len(values)
            assert stats.minimum == min(values)
            assert stats.maximum == max(values)
            assert math.isclose(stats.mean, statistics.fmean(values), abs_tol=1e-9)
            assert math.isclose(stats.stddev, statistics.pstdev(values), abs_tol=1e-6)
            assert stats.last == max(members, key=lambda m: (m.ts_ns, m.seq)).value


@given(st.data())
def test_crash_after_any_prefix_of_a_commit_replays_exactly_once(data: st.DataObject):
    readings = data.draw(streams(max_size=40))
    batches = data.draw(scrambled(readings))
    # With 11 s between records, gaps are given up (30 s) while records keep coming.
    step = data.draw(st.sampled_from([0, 11 * NS]))
    reference, _ = run(batches, flush=False, step_ns=step)
    crash_at = data.draw(st.integers(min_value=0, max_value=len(batches) - 1))

    processor = make({})
    outcomes = []
    for offset, item in enumerate(batches):
        now = NOW + offset * step
        outcome = processor.process(item, now_ns=now, offset=offset)
        if offset == crash_at:  # only a prefix of the changelog survived: replay the record
            cut = data.draw(st.integers(min_value=0, max_value=len(outcome.updates)))
            for key, value in outcome.updates[:cut]:
                processor.store[key] = Processor.committed(key, value)
            outcome = processor.process(item, now_ns=now, offset=offset)
        processor.commit(outcome)
        outcomes.append(outcome)
    assert windows(processor).keys() == windows(reference).keys()
    assert all(same_stats(windows(processor)[k], v) for k, v in windows(reference).items())
    same_state(processor.store, reference.store)
    # Every fresh reading reached storage at least once (re-writes are idempotent points).
    assert {r.seq for o in outcomes for r in o.raw} | {
        r.seq for r in batches[crash_at].readings
    } >= {r.seq for r in readings}


Lane = tuple[ReadingBatch, int, int]  # (batch, lane, offset in the lane)


def two_lanes(data: st.DataObject, batches: list[ReadingBatch]) -> list[Lane]:
    lanes = data.draw(
        st.lists(st.sampled_from((0, 1)), min_size=len(batches), max_size=len(batches))
    )
    next_offset = [0, 0]
    records = []
    for item, lane in zip(batches, lanes, strict=True):
        records.append((item, lane, next_offset[lane]))
        next_offset[lane] += 1
    return records


def remix(data: st.DataObject, records: list[Lane]) -> list[Lane]:
    """The records with each lane's in its order, interleaved across lanes anew."""
    by_lane = [[r for r in records if r[1] == lane] for lane in (0, 1)]
    order = data.draw(st.permutations([0] * len(by_lane[0]) + [1] * len(by_lane[1])))
    return [by_lane[lane].pop(0) for lane in order]


class Worker:
    """The worker's batch commit over the pure core (cloud.handlers.Handlers.finish): updates
    staged through an overlay; committed framed by the batch's order, each key's final value
    once, in commit-rank order; after a crash, an order still set is replayed first."""

    def __init__(self, records: list[Lane]):
        self.overlay = Overlay({})
        self.processor = make(self.overlay)
        self.by_source = {(lane, offset): item for item, lane, offset in records}
        self.stored: set[int] = set()

    def handle(
        self,
        group: list[Lane],
        crash: st.DataObject | None = None,
        *,
        cut: int | None = None,
        now_ns: int = NOW,
    ) -> None:
        interrupted = self.overlay.get("i|0")
        if interrupted:
            group = [(self.by_source[lane, off], lane, off) for lane, off in interrupted] + group
        final: dict[str, Any] = {}
        for item, lane, offset in group:
            outcome = self.processor.process(item, now_ns=now_ns, offset=offset, lane=lane)
            self.stored.update(r.seq for r in outcome.raw)
            for key, value in outcome.updates:
                self.overlay.stage(key, value)
                final[key] = value
        order = [[lane, offset] for _, lane, offset in group]
        commits = [("i|0", order)] + [
            (k, Processor.committed(k, final[k])) for k in sorted(final, key=Processor.commit_rank)
        ]
        commits.append(("i|0", None))
        if crash is not None:
            cut = crash.draw(st.integers(min_value=0, max_value=len(commits)))
        if cut is not None:
            commits = commits[:cut]
        for key, value in commits:
            self.overlay[key] = value
        self.overlay.staged.clear()  # a crash loses what was staged and not committed


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_two_lanes_replayed_after_a_crash_mid_batch_apply_every_record_once(data: st.DataObject):
    """Records on the live and backlog lanes (each with its own offsets), handled in batches
    as the worker does. A crash keeps a prefix of one batch's commit; each lane is then
    replayed from an earlier record, interleaved across lanes differently than before, with
    records never handled before among them."""
    readings = data.draw(streams(max_size=40))
    batches = data.draw(scrambled(readings))
    reference, _ = run(batches, flush=False)
    records = two_lanes(data, batches)
    start = data.draw(st.integers(min_value=0, max_value=len(records) - 1))
    end = data.draw(st.integers(min_value=start + 1, max_value=len(records)))
    replay_from = data.draw(st.integers(min_value=0, max_value=start))

    worker = Worker(records)
    worker.handle(records[:start])
    worker.handle(records[start:end], crash=data)
    # The restarted worker gets each lane again from an earlier offset, and records never
    # handled before may come first.
    worker.handle(remix(data, records[replay_from:]))

    got, want = windows(worker.processor), windows(reference)
    assert got.keys() == want.keys()
    assert all(same_stats(got[k], want[k]) for k in want)
    assert worker.stored == {r.seq for r in readings}
    dkey = Processor.dedup_key("pi", batches[0].boot_id)
    assert worker.overlay[dkey]["c"] == reference.store[dkey]["c"], "each record counted once"
    assert worker.overlay["i|0"] is None
    same_state(worker.overlay.base, reference.store)


def test_window_boundaries_are_half_open():
    width = 60 * NS
    start = (T0 // width + 1) * width
    readings = [
        Reading(device="pi", sensor="temp", value=1.0, ts_ns=start - 1, seq=0),
        Reading(device="pi", sensor="temp", value=2.0, ts_ns=start, seq=1),
        Reading(device="pi", sensor="temp", value=3.0, ts_ns=start + width - 1, seq=2),
        Reading(device="pi", sensor="temp", value=4.0, ts_ns=start + width, seq=3),
    ]
    processor, _ = run([batch(readings)])
    counts = [processor.window("pi", "temp", 60, start + k * width) for k in (-1, 0, 1)]
    assert [(s.count, s.last) for s in counts if s] == [(1, 1.0), (2, 3.0), (1, 4.0)]


def test_data_beyond_allowed_lateness_is_stored_raw_counted_not_aggregated():
    lateness = int(SETTINGS.allowed_lateness_s) * NS
    old = Reading(device="pi", sensor="temp", value=9.0, ts_ns=NOW - lateness - 1, seq=0)
    edge = Reading(device="pi", sensor="temp", value=8.0, ts_ns=NOW - lateness, seq=1)
    processor = make({})
    outcome = processor.process(batch([old, edge]), now_ns=NOW, offset=0)
    assert [r.seq for r in outcome.raw] == [0, 1]
    assert outcome.too_late == 1
    assert [(a.count, a.last) for a in outcome.aggregates] == [(1, 8.0), (1, 8.0)]


def test_alert_episode_opens_once_and_closes_once():
    values = [70, 70, 70, 55, 65, 30, 70]
    readings = [
        Reading(device="pi", sensor="temp", value=float(v), ts_ns=T0 + i * 20 * NS, seq=i)
        for i, v in enumerate(values)
    ]
    _, outcomes = run([batch(readings)])
    hot = [(a.state.value, a.ts_ns) for o in outcomes for a in o.alerts if a.rule == "hot"]
    assert hot == [("open", T0 + 40 * NS), ("close", T0 + 100 * NS)]
    ids = {a.alert_id for o in outcomes for a in o.alerts if a.rule == "hot"}
    assert ids == {f"hot:pi:temp:{T0}"}


def reading(seq: int, value: float = 20.0) -> Reading:
    return Reading(device="pi", sensor="temp", value=value, ts_ns=T0 + seq * NS, seq=seq)


def up_to_held(worker: Worker, group: list[Lane], now_ns: int = NOW) -> int:
    """The cut of a batch commit that keeps its order, windows, alert state and held
    readings and loses its dedup entries (found by a dry run on a copy)."""
    probe = Worker([])
    probe.overlay.base.update(worker.overlay.base)
    final = {}
    for item, lane, offset in group:
        for key, value in probe.processor.process(item, now_ns, offset, lane).updates:
            probe.overlay.stage(key, value)
            final[key] = value
    return 1 + sum(1 for key in final if Processor.commit_rank(key) < Processor.commit_rank("d|"))


def test_a_held_entry_emptied_and_refilled_in_one_batch_replays_cleanly():
    """Review finding: lane 1 holds 12, lane 0 then releases it (emptying its entry) and
    holds 14 in the same entry, and the commit is cut before the dedup entries. Deleting
    the emptied entry at once lost its lane-1 offset, so the replay put 12 back for good."""
    first = (batch([reading(s) for s in range(10)]), 0, 0)
    group = [
        (batch([reading(12)]), 1, 0),
        (batch([reading(10), reading(11)]), 0, 1),
        (batch([reading(14)]), 0, 2),
    ]
    last = (batch([reading(13)]), 0, 3)
    records = [first, *group, last]
    reference, _ = run([item for item, _, _ in records], flush=False)
    worker = Worker(records)
    worker.handle([first])
    worker.handle(group, cut=up_to_held(worker, group))
    worker.handle([])  # the restarted worker resumes the interrupted batch first
    assert list(entries(worker.overlay.base, "h|").values()) == [
        {"r": [reading(14).model_dump(mode="json")]}
    ]
    worker.handle([last])
    same_state(worker.overlay.base, reference.store)
    assert entries(worker.overlay.base, "h|") == {}


def test_a_replayed_expiry_whose_readings_are_gone_still_closes_the_gap():
    """Review finding: a record that gives up a gap releases held readings; the commit keeps
    alert state and held entries but loses the dedup entry. Replayed, the readings are gone
    from their entries, and the gap's start time must still be cleared, or the next gap is
    given up at once."""
    timeout = int(SETTINGS.gap_timeout_s) * NS
    records = [
        (batch([reading(s) for s in range(10)]), 0, 0),
        (batch([reading(12), reading(13)]), 0, 1),
        (batch([reading(5)]), 0, 2),  # a duplicate, handled when the gap times out
        (batch([reading(15)]), 0, 3),
    ]
    clocks = [NOW, NOW, NOW + timeout, NOW + timeout + NS]
    reference = Worker(records)
    for record, clock in zip(records, clocks, strict=True):
        reference.handle([record], now_ns=clock)
    worker = Worker(records)
    worker.handle(records[:2], now_ns=NOW)
    cut = up_to_held(worker, [records[2]], clocks[2])
    assert cut == 3, "the order, the alert state, one held entry"
    worker.handle([records[2]], cut=cut, now_ns=clocks[2])
    worker.handle([], now_ns=clocks[2])
    dkey = Processor.dedup_key("pi", BOOT)
    assert worker.overlay[dkey]["t"]["since"] is None
    worker.handle([records[3]], now_ns=clocks[3])
    same_state(worker.overlay.base, reference.overlay.base)
    assert worker.overlay[dkey]["t"]["next"] == 14, "the gap at 14 is not given up yet"
