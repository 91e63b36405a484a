"""Hypothesis strategies for reading streams of one device, and how to scramble them."""

from __future__ import annotations

from hypothesis import strategies as st

from fieldlink.messages import Reading, ReadingBatch

BOOT = "ab" * 16
T0 = 1_700_000_000_000_000_000
NS = 1_000_000_000
SENSORS = ("temp", "hum")


@st.composite
def streams(draw: st.DrawFn, max_size: int = 60, gaps: bool = False) -> list[Reading]:
    """Readings of device ``pi`` with seqs 0..n-1 (some left out when ``gaps``), one per
    second of event time, alternating sensors, values that cross the test rules' limits."""
    n = draw(st.integers(min_value=1, max_value=max_size))
    values = draw(st.lists(st.integers(min_value=0, max_value=100), min_size=n, max_size=n))
    # Jitter keeps timestamps increasing with seq but lands some exactly on window edges.
    steps = draw(st.lists(st.sampled_from([NS, 7 * NS, 59 * NS, 60 * NS]), min_size=n, max_size=n))
    keep = draw(st.lists(st.booleans(), min_size=n, max_size=n)) if gaps else [True] * n
    out, ts = [], T0
    for seq in range(n):
        ts += steps[seq]
        if keep[seq] or seq == 0:
            out.append(
                Reading(
                    device="pi",
                    sensor=SENSORS[seq % 2],
                    value=float(values[seq]),
                    ts_ns=ts,
                    seq=seq,
                )
            )
    return out


@st.composite
def scrambled(draw: st.DrawFn, readings: list[Reading]) -> list[ReadingBatch]:
    """The same readings permuted, some duplicated, cut into batches of strictly increasing
    seqs (a batch cannot hold the same seq twice)."""
    extra = draw(st.lists(st.sampled_from(readings), max_size=len(readings)))
    order = draw(st.permutations([*readings, *extra]))
    cuts = draw(st.lists(st.integers(min_value=1, max_value=8), min_size=len(order)))
    batches, i = [], 0
    for size in cuts:
        if i >= len(order):
            break
        chunk = {r.seq: r for r in order[i : i + size]}
        i += size
        batches.append(batch(sorted(chunk.values(), key=lambda r: r.seq)))
    return batches


def batch(readings: list[Reading], boot: str = BOOT) -> ReadingBatch:
    return ReadingBatch(
        device="pi",
        site="lab",
        boot_id=boot,
        seq_first=readings[0].seq,
        seq_last=readings[-1].seq,
        readings=tuple(readings),
    )
