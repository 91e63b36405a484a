"""``fieldlink lab install``: provision Mosquitto, Kafka and InfluxDB, idempotently.

Each installer answers ``is_installed()`` cheaply (a version check or a stamp file), so a
second run is a no-op that takes a second or two. What is installed lives in
:attr:`LabSettings.cache_dir <lab.settings.LabSettings.cache_dir>`, outside the repository.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from lab.settings import LabSettings

from ._run import Progress
from .compose import ComposeInstaller, compose_binary
from .errors import InstallError
from .imagetools import ImageToolsInstaller
from .influxdb import InfluxInstaller
from .kafka import KafkaInstaller
from .mosquitto import MosquittoInstaller, mosquitto_binary

__all__ = [
    "COMPONENTS",
    "InstallError",
    "Installer",
    "Progress",
    "compose_binary",
    "install",
    "installers",
    "mosquitto_binary",
]

COMPONENTS = ("mosquitto", "kafka", "influxdb", "imagetools", "compose")


class Installer(Protocol):
    name: str

    def is_installed(self) -> bool: ...

    def describe(self) -> str: ...

    def install(self, progress: Progress, log: Path) -> None: ...


def installers(settings: LabSettings) -> dict[str, Installer]:
    return {
        "mosquitto": MosquittoInstaller(),
        "kafka": KafkaInstaller(settings.kafka_home, settings.kafka_version),
        "influxdb": InfluxInstaller(
            settings.influxd_path, settings.influxdb_version, settings.build_dir
        ),
        "imagetools": ImageToolsInstaller(),
        "compose": ComposeInstaller(),
    }


def install(
    settings: LabSettings,
    components: Iterable[str] = COMPONENTS,
    *,
    force: bool = False,
    progress: Progress | None = None,
) -> None:
    """Install what is missing; with ``force`` reinstall even what is present."""
    progress = progress or Progress()
    available = installers(settings)
    settings.cache_dir.mkdir(parents=True, exist_ok=True)
    log = settings.cache_dir / "install.log"
    for name in components:
        installer = available[name]
        if installer.is_installed() and not force:
            progress.say(f"[green]ok[/green]   {installer.describe()}")
            continue
        progress.say(f"[yellow]install[/yellow] {name} (log: {log})")
        started = time.monotonic()
        installer.install(progress, log)
        progress.say(
            f"[green]ok[/green]   {installer.describe()} "
            f"(installed in {time.monotonic() - started:.0f}s)"
        )
