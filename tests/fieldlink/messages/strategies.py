"""Hypothesis strategies producing valid fieldlink messages, shared by every tier's tests."""

from __future__ import annotations

from hypothesis import strategies as st

from fieldlink.messages import (
    Alert,
    AlertState,
    Command,
    DeviceStatus,
    DriveOutput,
    DropReason,
    Quality,
    Reading,
    ReadingBatch,
    ReadingKind,
    RequestStatus,
    SetSampleRate,
)

names = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,20}", fullmatch=True)
boot_ids = st.from_regex(r"[0-9a-f]{32}", fullmatch=True)
timestamps = st.integers(min_value=0, max_value=2**62)
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@st.composite
def readings(draw: st.DrawFn, device: str | None = None, seq: int | None = None) -> Reading:
    bad = draw(st.booleans())
    quality = set(draw(st.sets(st.sampled_from(list(Quality)))))
    if bad:
        quality.add(Quality.BAD)
    return Reading(
        device=device or draw(names),
        sensor=draw(names),
        value=None if bad else draw(finite),
        unit=draw(st.sampled_from(["degC", "%", "lux", "cm", ""])),
        ts_ns=draw(timestamps),
        mono_ns=draw(st.none() | st.integers(min_value=0, max_value=2**62)),
        seq=seq if seq is not None else draw(st.integers(min_value=0, max_value=2**40)),
        kind=draw(st.sampled_from(list(ReadingKind))),
        quality=frozenset(quality),
        clock_synced=draw(st.booleans()),
    )


@st.composite
def reading_batches(draw: st.DrawFn) -> ReadingBatch:
    device = draw(names)
    seqs = sorted(draw(st.sets(st.integers(min_value=0, max_value=2**40), min_size=1, max_size=20)))
    items = tuple(draw(readings(device=device, seq=seq)) for seq in seqs)
    return ReadingBatch(
        device=device,
        site=draw(names),
        boot_id=draw(boot_ids),
        seq_first=seqs[0],
        seq_last=seqs[-1],
        readings=items,
        backlog=draw(st.booleans()),
    )


device_statuses = st.builds(
    DeviceStatus,
    device=names,
    site=names,
    boot_id=boot_ids,
    ts_ns=timestamps,
    online=st.booleans(),
    buffer_depth=st.integers(min_value=0, max_value=10**9),
    oldest_buffered_age_s=st.none() | st.floats(min_value=0, max_value=1e9),
    dropped=st.dictionaries(st.sampled_from(list(DropReason)), st.integers(0, 10**9)),
)

alerts = st.builds(
    Alert,
    alert_id=st.text(min_size=1, max_size=64),
    rule=names,
    state=st.sampled_from(list(AlertState)),
    device=names,
    site=names,
    sensor=st.none() | names,
    ts_ns=timestamps,
    value=st.none() | finite,
    message=st.text(max_size=100),
)

commands = st.builds(
    Command,
    command_id=st.text(min_size=1, max_size=32),
    device=names,
    site=names,
    ts_ns=timestamps,
    body=st.one_of(
        st.builds(SetSampleRate, sensor=names, hz=st.floats(min_value=0.01, max_value=1000)),
        st.builds(RequestStatus),
        st.builds(DriveOutput, output=names, state=st.sampled_from(["on", "off", "blink"])),
    ),
)

messages = st.one_of(reading_batches(), device_statuses, alerts, commands)
