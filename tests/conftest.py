"""Shared fixtures: the real servers, started once per test session.

A server that cannot start (not installed, port clash, crash) makes the tests that need it
ERROR, never skip: run ``fieldlink lab install`` (``make test`` does) to provision them.
Every test must declare its tier with a marker: ``unit``, ``integration`` or ``scenario``.
"""

from __future__ import annotations

from collections.abc import Iterator

import psutil
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


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if any process a test started is still alive: servers and agents must
    be stopped by the fixture or test that started them."""
    leftovers = [p for p in psutil.Process().children(recursive=True) if p.is_running()]
    if not leftovers:
        return
    names = []
    for proc in leftovers:
        try:
            names.append(f"{proc.pid} {' '.join(proc.cmdline())[:120]}")
            proc.kill()
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(leftovers, timeout=10)
    if names:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = "processes left running by tests (killed now):\n  " + "\n  ".join(names)
        if reporter is not None:
            reporter.write_line(message, red=True)


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
