"""The verdict: each invariant passes on a clean run and fails on exactly the fault it guards."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldlink.messages import Reading, ReadingKind
from lab.replay import (
    AlertEvent,
    Expectations,
    Observations,
    StoredAggregate,
    StoredReading,
    judge,
    recompute_aggregates,
)
from lab.replay.model import AlertExpectation

pytestmark = pytest.mark.unit

_T0 = 1_700_000_000 * 10**9
_S = 10**9


def _generated(devices: int = 2, per_device: int = 90) -> dict[str, list[Reading]]:
    return {
        f"dev-{d:03d}": [
            Reading(
                device=f"dev-{d:03d}",
                sensor="temp",
                value=20.0 + (i % 7) / 3,
                unit="degC",
                ts_ns=_T0 + i * _S,
                seq=i,
                kind=ReadingKind.EVENT if i % 30 == 29 else ReadingKind.SAMPLE,
            )
            for i in range(per_device)
        ]
        for d in range(devices)
    }


def _stored(generated: dict[str, list[Reading]]) -> list[StoredReading]:
    return [
        StoredReading(r.device, r.sensor, r.seq, r.ts_ns, r.value)
        for readings in generated.values()
        for r in readings
    ]


def _clean() -> Observations:
    generated = _generated()
    stored = _stored(generated)
    aggregates = list(recompute_aggregates(stored, (60, 3600)).values())
    return Observations(
        generated=generated,
        agent_drops={},
        stored=stored,
        aggregates=aggregates,
        catch_up_s=12.0,
        live_latency_ms=[float(i) for i in range(1, 101)],
    )


def _result(obs: Observations, expect: Expectations, name: str):  # type: ignore[no-untyped-def]
    return next(r for r in judge(obs, expect).invariants if r.name == name)


def test_clean_run_passes_every_invariant() -> None:
    verdict = judge(_clean(), Expectations(catch_up_s_max=60, live_p99_ms_max=2000))
    assert verdict.ok, verdict.to_dict()
    figures = {r.name: r.figures for r in verdict.invariants}
    assert figures["no_loss"]["generated"] == 180
    assert figures["no_loss"]["lost"] == 0
    assert figures["timing"]["live_p99_ms"] == 99.0
    assert figures["aggregates"]["windows"] == 2 * (2 + 1)  # 90 s: two 1-min, one 1-h window


def test_a_missing_reading_is_loss() -> None:
    obs = _clean()
    obs = dataclasses.replace(obs, stored=obs.stored[1:])
    result = _result(obs, Expectations(), "no_loss")
    assert not result.ok
    assert result.figures["lost"] == 1
    assert result.figures["unexplained"] == 1


def test_policy_drops_must_match_agent_counters_exactly() -> None:
    obs = _clean()
    # dev-000 seqs 0..9 are samples the buffer dropped, and the agent counted 10.
    kept = [r for r in obs.stored if not (r.device == "dev-000" and r.seq < 10)]
    expect = Expectations(policy_drops=True, aggregates_match=False)
    ok = dataclasses.replace(obs, stored=kept, agent_drops={"dev-000": 10})
    assert _result(ok, expect, "no_loss").ok
    off_by_one = dataclasses.replace(obs, stored=kept, agent_drops={"dev-000": 9})
    result = _result(off_by_one, expect, "no_loss")
    assert not result.ok
    assert result.figures["lost"] == 1
    unexpected = dataclasses.replace(obs, stored=kept, agent_drops={"dev-000": 10})
    assert not _result(unexpected, Expectations(aggregates_match=False), "no_loss").ok


def test_dropping_an_event_violates_the_policy() -> None:
    obs = _clean()
    kept = [r for r in obs.stored if not (r.device == "dev-001" and r.seq == 29)]
    obs = dataclasses.replace(obs, stored=kept, agent_drops={"dev-001": 1})
    result = _result(obs, Expectations(policy_drops=True), "no_loss")
    assert not result.ok
    assert "event" in result.detail


def test_phantom_and_corrupted_readings_fail() -> None:
    obs = _clean()
    phantom = StoredReading("dev-000", "temp", 10_000, _T0, 1.0)
    corrupted = dataclasses.replace(obs.stored[5], value=99.0)
    stored = [phantom, corrupted, *obs.stored[:5], *obs.stored[6:]]
    result = _result(dataclasses.replace(obs, stored=stored), Expectations(), "no_loss")
    assert not result.ok
    assert (result.figures["phantoms"], result.figures["corrupted"]) == (1, 1)


@given(st.lists(st.integers(min_value=0, max_value=179), max_size=20))
def test_duplicates_are_counted_exactly(extra: list[int]) -> None:
    obs = _clean()
    stored = list(obs.stored) + [obs.stored[i] for i in extra]
    result = _result(dataclasses.replace(obs, stored=stored), Expectations(), "no_duplicates")
    assert result.figures["duplicates"] == len(extra)
    assert result.ok is (not extra)


def test_wrong_missing_and_extra_windows_fail() -> None:
    obs = _clean()
    aggregates = list(obs.aggregates)
    aggregates[0] = dataclasses.replace(aggregates[0], mean=aggregates[0].mean + 0.5)
    del aggregates[1]
    aggregates.append(StoredAggregate("dev-009", "temp", 60, _T0, 1, 1, 1, 1, 0, 1))
    result = _result(dataclasses.replace(obs, aggregates=aggregates), Expectations(), "aggregates")
    assert not result.ok
    assert (result.figures["wrong"], result.figures["missing"], result.figures["extra"]) == (
        1,
        1,
        1,
    )


def test_recomputation_uses_population_stddev_and_last_by_event_time() -> None:
    rows = [
        StoredReading("d", "s", 2, _T0 + 2 * _S, 4.0),
        StoredReading("d", "s", 0, _T0, 2.0),
        StoredReading("d", "s", 1, _T0 + _S, 6.0),
        StoredReading("d", "s", 1, _T0 + _S, 6.0),  # a duplicate does not count twice
        StoredReading("d", "s", 3, _T0 + 3 * _S, None),  # a bad reading is not aggregated
    ]
    (window,) = recompute_aggregates(rows, (3600,)).values()
    assert (window.count, window.min, window.max, window.mean, window.last) == (3, 2, 6, 4, 4)
    assert window.stddev == pytest.approx((8 / 3) ** 0.5)


def _alert(alert_id: str, state: str, rule: str = "overheat", device: str = "dev-001"):  # type: ignore[no-untyped-def]
    return AlertEvent(alert_id, rule, device, state, _T0)


def test_alert_episodes_must_match_expectations() -> None:
    expect = Expectations(alerts=(AlertExpectation(rule="overheat", device="dev-001"),))
    good = dataclasses.replace(_clean(), alerts=[_alert("a1", "open"), _alert("a1", "close")])
    assert _result(good, expect, "alerts").ok
    twice_opened = dataclasses.replace(
        good, alerts=[_alert("a1", "open"), _alert("a1", "open"), _alert("a1", "close")]
    )
    assert _result(twice_opened, expect, "alerts").figures["malformed"] == 1
    false_outage = dataclasses.replace(
        good, alerts=[*good.alerts, _alert("s1", "open", rule="device_silent")]
    )
    result = _result(false_outage, expect, "alerts")
    assert not result.ok
    assert "device_silent@dev-001" in result.detail
    assert not _result(dataclasses.replace(good, alerts=[]), expect, "alerts").ok


def test_timing_bounds() -> None:
    obs = _clean()
    assert not _result(obs, Expectations(catch_up_s_max=10), "timing").ok
    assert not _result(obs, Expectations(live_p99_ms_max=50), "timing").ok
    no_data = dataclasses.replace(obs, catch_up_s=None)
    assert not _result(no_data, Expectations(catch_up_s_max=10), "timing").ok
    assert _result(no_data, Expectations(), "timing").ok
