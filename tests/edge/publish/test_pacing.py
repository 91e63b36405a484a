from __future__ import annotations

import random

import pytest

from edge.publish import Backoff, TokenBucket

pytestmark = pytest.mark.unit


def test_backoff_doubles_to_its_cap_with_jitter_and_resets() -> None:
    rng = random.Random(1)  # noqa: S311 - jitter, not crypto
    backoff = Backoff(0.5, 8.0, rng=rng.random)
    delays = [backoff.next() for _ in range(8)]
    ceilings = [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert len(set(delays)) == len(delays), "jittered"
    backoff.reset()
    assert backoff.next() <= 0.5


def test_token_bucket_refills_at_rate_up_to_burst() -> None:
    bucket = TokenBucket(rate=10.0, burst=5, now=0.0)
    assert bucket.available(0.2) == pytest.approx(2.0)
    bucket.spend(2)
    assert bucket.available(100.0) == 5
