"""Shared fixtures: the real servers, started once per test session.

A server that cannot start (not installed, port clash, crash) makes the tests that need it
ERROR, never skip: run ``fieldlink lab install`` (``make test`` does) to provision them.
Every test must declare its tier with a marker: ``unit``, ``integration`` or ``scenario``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lab.services import InfluxServer, KafkaServer, MosquittoServer
from lab.settings import LabSettings

_TIERS = {"unit", "integration", "scenario"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    untiered = [item.nodeid for item in items if not _TIERS & {m.name for m in item.iter_markers()}]
    if untiered:
        raise pytest.UsageError(
            "tests without a tier marker (unit, integration or scenario):\n  "
            + "\n  ".join(untiered)
        )


@pytest.fixture(scope="session")
def lab_settings() -> LabSettings:
    return LabSettings.load()


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoServer]:
    with MosquittoServer(tmp_path_factory.mktemp("mosquitto")) as server:
        yield server


@pytest.fixture(scope="session")
def kafka(
    tmp_path_factory: pytest.TempPathFactory, lab_settings: LabSettings
) -> Iterator[KafkaServer]:
    with KafkaServer(tmp_path_factory.mktemp("kafka"), home=lab_settings.kafka_home) as server:
        yield server


@pytest.fixture(scope="session")
def influxdb(
    tmp_path_factory: pytest.TempPathFactory, lab_settings: LabSettings
) -> Iterator[InfluxServer]:
    with InfluxServer(
        tmp_path_factory.mktemp("influxdb"), binary=lab_settings.influxd_path
    ) as server:
        yield server


@pytest.fixture
def unique(request: pytest.FixtureRequest) -> str:
    """A name unique to this test, for topics and buckets, so tests sharing a server never
    see each other's data."""
    import hashlib
    import time

    digest = hashlib.blake2b(
        f"{request.node.nodeid}{time.time_ns()}".encode(), digest_size=5
    ).hexdigest()
    return f"t{digest}"
