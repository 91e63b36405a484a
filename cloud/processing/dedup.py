"""Per (device, boot id) seq tracking: drop duplicates, release readings in seq order,
count gaps that never fill.

Seqs of one device are contiguous, so the set of seqs delivered so far is kept as sorted
disjoint intervals (a contiguous watermark plus a sparse remainder above it). Readings are
*released* to order-sensitive consumers (the alert rules) strictly in seq order: one that
arrives ahead of a gap is held until the gap fills or ``gap_timeout_ns`` of processing time
passes, when the gap is given up on and its seqs count as missing. A reading that fills a
given-up gap later is still fresh (stored and aggregated) but not released, and the missing
count drops again, so the count is exact at every moment.

The held seqs are exactly the delivered seqs at or above ``next_release``, so the tracker's
own state stays small however many readings wait: the readings themselves are kept by the
caller (:mod:`.pipeline` keeps them in state entries of their own, a few dozen seqs each,
so a device whose live readings wait for its backlog does not rewrite hundreds of held
readings with every record). The tracker holds only the readings offered since it was
loaded (:attr:`SeqTracker.held`) and asks ``load`` for older ones when it releases them.

>>> from fieldlink.messages import Reading
>>> tracker = SeqTracker()
>>> r = lambda seq: Reading(device="pi", sensor="t", value=1.0, ts_ns=seq, seq=seq)
>>> [x.seq for x in tracker.offer(r(1), now_ns=0).released]
[]
>>> [x.seq for x in tracker.offer(r(0), now_ns=0).released]
[0, 1]
>>> tracker.offer(r(0), now_ns=0).fresh
False
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fieldlink.messages import Reading

__all__ = ["Offer", "SeqTracker"]


def _reading(held: Reading | dict[str, Any]) -> Reading:
    return held if isinstance(held, Reading) else Reading.model_validate(held)


@dataclass(frozen=True, slots=True)
class Offer:
    fresh: bool
    """False for a duplicate: it must not reach storage or aggregation again."""
    released: tuple[Reading, ...] = ()
    """Readings now due for in-order consumers, in seq order (possibly held earlier ones)."""


@dataclass(slots=True)
class SeqTracker:
    """Delivered seqs of one (device, boot id) and the readings held for in-order release."""

    intervals: list[list[int]] = field(default_factory=list)
    """Sorted, disjoint, non-adjacent inclusive ``[lo, hi]`` ranges of delivered seqs."""
    next_release: int = 0
    """The next seq to release; everything below it was released or given up."""
    floor: int | None = None
    """Seq at which releasing started; gaps below it are unknowable and not counted."""
    held: dict[int, Reading | dict[str, Any]] = field(default_factory=dict)
    """Held readings offered since the tracker was loaded (not part of :meth:`to_json`), by
    seq: a Reading, or its JSON form (validated when it was first held, turned back into a
    Reading only on release)."""
    held_since_ns: int | None = None
    """Processing time at which the current gap (before the lowest held seq) was noticed."""
    late_for_alerts: int = 0
    """Readings that filled a given-up gap: stored and aggregated, not evaluated by rules."""
    load: Callable[[int], Reading | dict[str, Any] | None] | None = field(
        default=None, compare=False, repr=False
    )
    """Where held readings not in :attr:`held` are: called with a seq being released."""
    unavailable: int = field(default=0, compare=False)
    """Seqs released whose reading neither :attr:`held` nor ``load`` had (a replayed record
    whose held readings a surviving part of its commit already released)."""

    @property
    def holding(self) -> bool:
        """Whether any delivered reading waits for release (seqs at or above next_release)."""
        return bool(self.intervals) and self.intervals[-1][1] >= self.next_release

    def lowest_held(self) -> int:
        i = bisect.bisect_right(self.intervals, [self.next_release, float("inf")]) - 1
        if i >= 0 and self.intervals[i][1] >= self.next_release:
            return self.next_release  # only reached with next_release itself delivered
        return self.intervals[i + 1][0]

    def seen(self, seq: int) -> bool:
        i = bisect.bisect_right(self.intervals, [seq, float("inf")]) - 1
        return i >= 0 and self.intervals[i][0] <= seq <= self.intervals[i][1]

    def _add(self, seq: int) -> None:
        iv = self.intervals
        i = bisect.bisect_left(iv, [seq, seq])
        joins_left = i > 0 and iv[i - 1][1] == seq - 1
        joins_right = i < len(iv) and iv[i][0] == seq + 1
        if joins_left and joins_right:
            iv[i - 1][1] = iv[i][1]
            del iv[i]
        elif joins_left:
            iv[i - 1][1] = seq
        elif joins_right:
            iv[i][0] = seq
        else:
            iv.insert(i, [seq, seq])

    def offer(self, reading: Reading, *, now_ns: int) -> Offer:
        """Record one reading; say whether it is new and what is now due, in seq order."""
        seq = reading.seq
        if self.seen(seq):
            return Offer(fresh=False)
        self._add(seq)
        if seq < self.next_release:
            self.late_for_alerts += 1
            return Offer(fresh=True)
        self.held[seq] = reading
        released = self._drain()
        if self.held_since_ns is None and self.holding:
            self.held_since_ns = now_ns
        return Offer(fresh=True, released=released)

    def offer_run(self, readings: Sequence[Reading], *, now_ns: int) -> Offer | None:
        """Fast path for the common case: a batch that continues the stream exactly (its seqs
        contiguous from ``next_release``, nothing held). Returns None when it does not apply,
        and the caller offers the readings one by one."""
        if not readings or self.holding:
            return None
        first, last = readings[0].seq, readings[-1].seq
        if first != self.next_release or last - first + 1 != len(readings):
            return None
        iv = self.intervals
        if iv and iv[-1][1] >= first:
            return None  # something at or above this run was delivered already
        if iv and iv[-1][1] == first - 1:
            iv[-1][1] = last
        else:
            iv.append([first, last])
        if self.floor is None:
            self.floor = first
        self.next_release = last + 1
        return Offer(fresh=True, released=tuple(readings))

    def _drain(self) -> tuple[Reading, ...]:
        out = []
        start = self.next_release
        while self.seen(self.next_release):
            seq = self.next_release
            if self.floor is None:
                self.floor = seq
            item = self.held.pop(seq, None)
            if item is None and self.load is not None:
                item = self.load(seq)
            if item is None:
                self.unavailable += 1
            else:
                out.append(_reading(item))
            self.next_release += 1
        if self.next_release != start:  # the gap before the lowest held seq closed
            self.held_since_ns = None
        return tuple(out)

    def expire(self, *, now_ns: int, gap_timeout_ns: int) -> tuple[Reading, ...]:
        """Give up on a gap that has been open for ``gap_timeout_ns``: release what waits
        behind it (its seqs then count as missing until they turn up)."""
        out: list[Reading] = []
        while (
            self.held_since_ns is not None
            and now_ns - self.held_since_ns >= gap_timeout_ns
            and self.holding
        ):
            lowest = self.lowest_held()
            if self.floor is None:
                self.floor = lowest
            self.next_release = lowest
            out.extend(self._drain())
            if self.holding:
                self.held_since_ns = now_ns
        return tuple(out)

    @property
    def missing(self) -> int:
        """Seqs given up on (below ``next_release``, above ``floor``) that never arrived."""
        if self.floor is None:
            return 0
        delivered = 0
        for lo, hi in self.intervals:
            lo, hi = max(lo, self.floor), min(hi, self.next_release - 1)
            if hi >= lo:
                delivered += hi - lo + 1
        return self.next_release - self.floor - delivered

    @property
    def delivered(self) -> int:
        return sum(hi - lo + 1 for lo, hi in self.intervals)

    def to_json(self) -> dict[str, Any]:
        """The tracker's state; held readings are the caller's to keep (:attr:`held`)."""
        return {
            "iv": self.intervals,
            "next": self.next_release,
            "floor": self.floor,
            "since": self.held_since_ns,
            "late": self.late_for_alerts,
        }

    @classmethod
    def from_json(
        cls,
        data: dict[str, Any],
        load: Callable[[int], Reading | dict[str, Any] | None] | None = None,
    ) -> SeqTracker:
        """``load``: see :attr:`load`. A state written before held readings moved out of it
        still lists them under ``held``; they come back in :attr:`held`."""
        return cls(
            intervals=[list(pair) for pair in data["iv"]],
            next_release=data["next"],
            floor=data["floor"],
            held={item["seq"]: item for item in data.get("held", ())},
            held_since_ns=data["since"],
            late_for_alerts=data["late"],
            load=load,
        )
