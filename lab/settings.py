"""Where the lab keeps what it installs, and which versions it installs."""

from __future__ import annotations

import datetime
from pathlib import Path

from pydantic import Field

from fieldlink.settings import FieldlinkSettings, SettingsConfigDict

__all__ = ["LabSettings"]


class LabSettings(FieldlinkSettings):
    """Lab provisioning settings, read from ``FIELDLINK_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="FIELDLINK_")

    cache_dir: Path = Field(
        default=Path.home() / ".cache" / "fieldlink",
        title="Cache directory",
        description="Where installed servers live (outside the repository so a fresh clone "
        "reuses them). Override with FIELDLINK_CACHE_DIR.",
    )
    kafka_version: str = Field(
        default="3.9.1",
        pattern=r"^3\.\d+\.\d+$",
        title="Apache Kafka version",
        description="Kafka 3.x (KRaft) fetched as jars from Maven Central. 3.9 is the newest "
        "line every aiokafka release faust-streaming accepts can talk to.",
    )
    influxdb_version: str = Field(
        default="v2.9.1",
        pattern=r"^v2\.\d+\.\d+$",
        title="InfluxDB version",
        description="InfluxDB 2.x tag built from the Go module proxy.",
    )

    reports_dir: Path = Field(
        default=Path.home() / ".local" / "state" / "fieldlink" / "reports",
        title="Reports directory",
        description="Where `fieldlink lab replay` and `fieldlink lab bench` write their reports "
        "(one folder per run) unless given --out, and what the dashboard of `fieldlink lab up` "
        "lists under Reports. Override with FIELDLINK_REPORTS_DIR.",
    )

    def new_report_dir(self, kind: str) -> Path:
        """A fresh folder ``<reports_dir>/<kind>-<UTC timestamp>`` for one run's reports."""
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d-%H%M%S")
        path = self.reports_dir / f"{kind}-{stamp}"
        suffix = 1
        while path.exists():
            suffix += 1
            path = self.reports_dir / f"{kind}-{stamp}-{suffix}"
        return path

    @property
    def kafka_home(self) -> Path:
        return self.cache_dir / f"kafka-{self.kafka_version}"

    @property
    def influxd_path(self) -> Path:
        return self.cache_dir / f"influxdb-{self.influxdb_version.lstrip('v')}" / "influxd"

    @property
    def build_dir(self) -> Path:
        return self.cache_dir / "build"
