"""Seeded, deterministic signals that drive simulated sensors.

A waveform is a pure function of time: the same seed and the same ``t`` give the same value
however often, in whatever order and at whatever rate it is sampled, so a replayed scenario
produces the same readings. ``None`` means the sensor fails (a dropout).

>>> from edge.settings import WaveformConfig, WaveformEvent
>>> overheat = WaveformEvent(at_s=120, kind="step", value=85.0)
>>> wave = Waveform(WaveformConfig(mean=21.0, noise=0.0, schedule=[overheat]), seed=7)
>>> round(wave.value_at(0.0), 3), wave.value_at(130.0)
(21.0, 85.0)
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable

from ..settings import WaveformConfig, WaveformEvent

__all__ = ["Waveform", "derive_seed"]

_SPIKE_DEFAULT_S = 0.5
_NOISE_STEP_S = 0.001
"""Noise changes per millisecond of signal time: samples at distinct times differ."""


_MASK64 = 2**64 - 1
_GOLDEN = 0x9E3779B97F4A7C15
_SLOT, _NOISE, _DROP, _SPIKE = 1, 3, 5, 7  # random streams (gauss uses two: n and n + 1)


def _splitmix64(x: int) -> int:
    """SplitMix64's finalizer: a fast, well-mixed hash of a 64-bit integer."""
    z = (x + _GOLDEN) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def derive_seed(*parts: object) -> int:
    """A stable 63-bit seed from names (``hash()`` is salted per process, so not that)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


class Waveform:
    """The signal of one simulated sensor."""

    def __init__(self, config: WaveformConfig, *, seed: int) -> None:
        self._config = config
        self._seed = config.seed if config.seed is not None else seed

    def _uniform(self, stream: int, tick: int) -> float:
        """A uniform [0, 1) number that depends only on (seed, stream, tick)."""
        return _splitmix64(self._seed ^ _splitmix64(stream * _GOLDEN + tick)) / 2**64

    def _gauss(self, stream: int, tick: int, sigma: float) -> float:
        u1 = self._uniform(stream, tick) or 2**-64
        u2 = self._uniform(stream + 1, tick)
        return sigma * math.sqrt(-2.0 * math.log(u1)) * math.cos(2 * math.pi * u2)

    def base_at(self, t_s: float) -> float:
        """The signal before scheduled overrides and random faults."""
        c = self._config
        if c.shape == "events":
            slot = math.floor(t_s / c.event_duration_s)
            chance = min(1.0, c.events_per_min * c.event_duration_s / 60)
            return 1.0 if self._uniform(_SLOT, slot) < chance else 0.0
        value = c.mean
        if c.shape == "daily":
            value += c.amplitude * math.sin(2 * math.pi * (t_s + c.phase_s) / c.period_s)
        if c.noise:
            value += self._gauss(_NOISE, round(t_s / _NOISE_STEP_S), c.noise)
        return value

    def value_at(self, t_s: float) -> float | None:
        """The simulated physical value at ``t_s`` seconds after start; None: dropout."""
        c = self._config
        tick = round(t_s / _NOISE_STEP_S)
        if c.dropout_probability and self._uniform(_DROP, tick) < c.dropout_probability:
            return None
        value: float | None = self.base_at(t_s)
        for event in c.schedule:
            value = _apply(event, t_s, value, self.base_at)
        if (
            value is not None
            and c.spike_probability
            and self._uniform(_SPIKE, tick) < c.spike_probability
        ):
            value += c.spike_magnitude
        return value


def _active(event: WaveformEvent, t_s: float, default_duration: float | None = None) -> bool:
    duration = event.duration_s if event.duration_s is not None else default_duration
    return t_s >= event.at_s and (duration is None or t_s < event.at_s + duration)


def _apply(
    event: WaveformEvent,
    t_s: float,
    value: float | None,
    base_at: Callable[[float], float],
) -> float | None:
    if value is None:
        return None
    if event.kind == "dropout":
        return None if _active(event, t_s) else value
    if event.kind == "step":
        return event.value if _active(event, t_s) else value
    if event.kind == "spike":
        return event.value if _active(event, t_s, _SPIKE_DEFAULT_S) else value
    if event.kind == "stuck":
        return base_at(event.at_s) if _active(event, t_s) else value
    # ramp: from the signal at at_s to value over duration_s, then hold the value.
    assert event.value is not None  # checked by WaveformEvent
    assert event.duration_s is not None
    if t_s < event.at_s:
        return value
    progress = min(1.0, (t_s - event.at_s) / event.duration_s)
    return value + (event.value - value) * progress
