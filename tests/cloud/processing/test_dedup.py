"""SeqTracker: duplicates dropped, release in seq order, exact missing counts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloud.processing.dedup import SeqTracker
from fieldlink.messages import Reading

pytestmark = pytest.mark.unit


def r(seq: int) -> Reading:
    return Reading(device="pi", sensor="t", value=float(seq), ts_ns=seq, seq=seq)


@given(st.lists(st.integers(min_value=0, max_value=200), max_size=300))
def test_each_seq_is_fresh_exactly_once(seqs: list[int]):
    tracker = SeqTracker()
    fresh = [s for s in seqs if tracker.offer(r(s), now_ns=0).fresh]
    assert sorted(fresh) == sorted(set(seqs))
    assert tracker.delivered == len(set(seqs))
    assert all(lo <= hi for lo, hi in tracker.intervals)
    pairs = zip(tracker.intervals, tracker.intervals[1:], strict=False)
    assert all(a[1] + 1 < b[0] for a, b in pairs)


@given(st.permutations(list(range(40))))
def test_release_is_in_seq_order_whatever_the_arrival_order(order: list[int]):
    tracker = SeqTracker()
    released = [x.seq for s in order for x in tracker.offer(r(s), now_ns=0).released]
    assert released == list(range(40))
    assert tracker.missing == 0


def test_gap_given_up_after_timeout_counts_missing_then_late_fill_uncounts():
    tracker = SeqTracker()
    for seq in (0, 1, 4, 5):
        tracker.offer(r(seq), now_ns=0)
    assert tracker.expire(now_ns=9, gap_timeout_ns=10) == ()
    assert [x.seq for x in tracker.expire(now_ns=10, gap_timeout_ns=10)] == [4, 5]
    assert tracker.missing == 2
    late = tracker.offer(r(2), now_ns=11)
    assert late.fresh
    assert late.released == ()
    assert tracker.missing == 1
    assert tracker.late_for_alerts == 1
    assert not tracker.offer(r(2), now_ns=12).fresh


def test_gap_before_the_first_reading_is_not_counted():
    tracker = SeqTracker()
    tracker.offer(r(100), now_ns=0)
    assert [x.seq for x in tracker.expire(now_ns=5, gap_timeout_ns=5)] == [100]
    assert tracker.missing == 0
    assert [x.seq for x in tracker.offer(r(101), now_ns=6).released] == [101]


def test_json_round_trip_keeps_everything_but_the_held_readings_which_load_supplies():
    tracker = SeqTracker()
    for seq in (0, 3, 7, 8):
        tracker.offer(r(seq), now_ns=42)
    # The caller keeps what is held (here as stored JSON); the tracker's state is small.
    kept = {seq: item.model_dump(mode="json") for seq, item in tracker.held.items()}
    assert sorted(kept) == [3, 7, 8]
    assert "held" not in tracker.to_json()
    again = SeqTracker.from_json(tracker.to_json(), load=kept.pop)
    assert again.to_json() == tracker.to_json()
    assert again.holding
    assert again.lowest_held() == 3
    for seq in (1, 2, 4, 5, 6):
        assert again.offer(r(seq), now_ns=43) == tracker.offer(r(seq), now_ns=43)
    assert kept == {}
    assert again.to_json() == tracker.to_json()
    assert again.held == {}
    assert not again.holding
    assert again.unavailable == 0


def test_a_state_written_with_held_readings_inside_still_releases_them():
    legacy = {"iv": [[0, 0], [2, 2]], "next": 1, "floor": 0, "since": 5, "late": 0}
    legacy["held"] = [r(2).model_dump(mode="json")]
    tracker = SeqTracker.from_json(legacy)
    assert [x.seq for x in tracker.offer(r(1), now_ns=6).released] == [1, 2]


def test_a_release_whose_reading_is_gone_is_counted_not_invented():
    tracker = SeqTracker.from_json(
        {"iv": [[0, 0], [2, 3]], "next": 1, "floor": 0, "since": 5, "late": 0},
        load={3: r(3).model_dump(mode="json")}.get,
    )
    assert [x.seq for x in tracker.offer(r(1), now_ns=6).released] == [1, 3]
    assert tracker.unavailable == 1
    assert tracker.next_release == 4


@given(st.lists(st.integers(min_value=0, max_value=60), max_size=120), st.integers(1, 30))
def test_expiry_releases_what_is_held_in_order_whether_in_memory_or_loaded(
    seqs: list[int], timeout: int
):
    """A tracker reloaded after every offer (held readings kept outside) behaves exactly as
    one kept in memory."""
    memory = SeqTracker()
    kept: dict[int, object] = {}
    state = SeqTracker().to_json()
    for now, seq in enumerate(seqs):
        want = memory.offer(r(seq), now_ns=now)
        want_expired = memory.expire(now_ns=now, gap_timeout_ns=timeout)
        tracker = SeqTracker.from_json(state, load=kept.pop)  # type: ignore[arg-type]
        got = tracker.offer(r(seq), now_ns=now)
        got_expired = tracker.expire(now_ns=now, gap_timeout_ns=timeout)
        assert (got, got_expired) == (want, want_expired)
        kept.update(tracker.held)
        state = tracker.to_json()
        assert state == memory.to_json()
        assert sorted(kept) == sorted(memory.held)
        assert tracker.unavailable == 0


def test_a_gap_is_given_up_its_timeout_after_it_was_noticed_while_readings_keep_coming():
    tracker = SeqTracker()
    tracker.offer(r(0), now_ns=0)
    tracker.offer(r(2), now_ns=0)  # 1 is missing from here on
    tracker.offer(r(3), now_ns=5)
    tracker.offer(r(4), now_ns=9)
    assert [x.seq for x in tracker.expire(now_ns=10, gap_timeout_ns=10)] == [2, 3, 4]
    assert tracker.missing == 1
    assert tracker.held_since_ns is None
