from __future__ import annotations

import statistics

import pytest

from edge.sensors.waveforms import Waveform
from edge.settings import WaveformConfig, WaveformEvent

pytestmark = pytest.mark.unit


def wave(**kw: object) -> Waveform:
    return Waveform(WaveformConfig(**kw), seed=42)  # type: ignore[arg-type]


def test_same_seed_same_signal_whatever_the_sampling_order() -> None:
    times = [i * 0.37 for i in range(500)]
    forward = [wave().value_at(t) for t in times]
    backward = [wave().value_at(t) for t in reversed(times)][::-1]
    assert forward == backward
    assert forward != [Waveform(WaveformConfig(), seed=43).value_at(t) for t in times]


def test_daily_cycle_with_noise() -> None:
    w = wave(mean=20.0, amplitude=5.0, period_s=100.0, noise=0.1)
    peak = [w.value_at(25.0 + i * 0.01) for i in range(100)]
    trough = [w.value_at(75.0 + i * 0.01) for i in range(100)]
    assert statistics.mean(peak) == pytest.approx(25.0, abs=0.1)
    assert statistics.mean(trough) == pytest.approx(15.0, abs=0.1)
    assert 0.05 < statistics.stdev(peak) < 0.2


def test_events_shape_is_zero_or_one_at_the_configured_rate() -> None:
    w = wave(shape="events", events_per_min=6.0, event_duration_s=2.0)
    values = [w.value_at(t * 2.0) for t in range(30_000)]
    assert set(values) == {0.0, 1.0}
    assert sum(values) / len(values) == pytest.approx(6.0 * 2.0 / 60, abs=0.02)


def test_scheduled_overheat_step_ramp_stuck_spike_dropout() -> None:
    schedule = [
        WaveformEvent(at_s=10, duration_s=5, kind="step", value=85.0),
        WaveformEvent(at_s=20, duration_s=10, kind="ramp", value=40.0),
        WaveformEvent(at_s=40, duration_s=5, kind="stuck"),
        WaveformEvent(at_s=50, kind="spike", value=999.0),
        WaveformEvent(at_s=60, duration_s=5, kind="dropout"),
    ]
    w = wave(mean=20.0, amplitude=0.0, noise=0.5, schedule=schedule)
    assert w.value_at(12.0) == 85.0
    assert w.value_at(16.0) != 85.0
    assert w.value_at(25.0) == pytest.approx(30.0, abs=2.0)
    assert w.value_at(35.0) == 40.0, "a ramp holds its target"
    stuck = {w.value_at(40.0 + i / 10) for i in range(50)}
    assert len(stuck) == 1
    assert w.value_at(50.2) == 999.0
    assert w.value_at(62.0) is None
    assert w.value_at(66.0) is not None


def test_random_spikes_and_dropouts_follow_their_probabilities() -> None:
    w = wave(
        shape="constant",
        mean=0.0,
        noise=0.0,
        spike_probability=0.1,
        spike_magnitude=50.0,
        dropout_probability=0.05,
    )
    values = [w.value_at(t / 100) for t in range(20_000)]
    dropouts = sum(v is None for v in values) / len(values)
    spikes = sum(v == 50.0 for v in values) / len(values)
    assert dropouts == pytest.approx(0.05, abs=0.01)
    assert spikes == pytest.approx(0.095, abs=0.015)
