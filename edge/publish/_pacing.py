"""Pure pacing helpers: reconnect backoff with jitter, and the drain-rate token bucket."""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["Backoff", "TokenBucket"]


class Backoff:
    """Capped exponential backoff with "equal jitter": half the delay fixed, half random,
    so a fleet that lost its broker at the same moment does not reconnect in lockstep.

    >>> backoff = Backoff(0.5, 4.0, rng=lambda: 1.0)
    >>> [backoff.next() for _ in range(5)]
    [0.5, 1.0, 2.0, 4.0, 4.0]
    >>> backoff.reset(); backoff.next()
    0.5
    """

    def __init__(
        self, minimum_s: float, maximum_s: float, *, rng: Callable[[], float] = random.random
    ) -> None:
        self._min = minimum_s
        self._max = maximum_s
        self._rng: Callable[[], float] = rng
        self._attempt = 0

    def next(self) -> float:
        ceiling = min(self._max, self._min * (1 << self._attempt))
        self._attempt = min(self._attempt + 1, 62)
        jitter: float = self._rng()
        return ceiling / 2 + ceiling / 2 * jitter

    def reset(self) -> None:
        self._attempt = 0


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` banked.

    >>> bucket = TokenBucket(rate=100.0, burst=50, now=0.0)
    >>> bucket.available(0.1), bucket.available(10.0)
    (10.0, 50.0)
    >>> bucket.spend(30); bucket.available(10.0)
    20.0
    """

    def __init__(self, *, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = 0.0
        self._at = now

    def available(self, now: float) -> float:
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        return self._tokens

    def spend(self, tokens: float) -> None:
        self._tokens -= tokens
