from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.broker.harness import HardenedBroker, hardened_broker

DEVICES = [f"dev-{i:02d}" for i in range(10)]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[HardenedBroker]:
    """A private hardened Mosquitto per test: bridge sessions never leak between tests."""
    env = hardened_broker(tmp_path, [*DEVICES, "dev-intruder"])
    with env.server:
        yield env
