"""Settings of the cloud tier: Kafka, InfluxDB, windows, lateness, gaps and alert rules.

Loaded once at the entry point (``fieldlink cloud worker --config cloud.toml``) from a TOML
file and ``FIELDLINK_CLOUD_*`` environment variables (nested with ``__``), then passed down.

>>> CloudSettings.load(kafka_bootstrap="127.0.0.1:9092").window_widths_s
(60, 3600)
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fieldlink.messages import Name
from fieldlink.settings import FieldlinkSettings, SettingsConfigDict

__all__ = [
    "AlertRules",
    "CloudSettings",
    "DeadmanRule",
    "RateRule",
    "Severity",
    "ThresholdRule",
]

Severity = Literal["info", "warning", "critical"]


class _Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Name = Field(description="Rule name; part of every alert id it produces.")
    severity: Severity = "warning"


class ThresholdRule(_Rule):
    """Open when ``sensor`` stays beyond ``above`` (or ``below``) for ``min_duration_s`` of
    event time; close only once the value is back past ``clear`` (hysteresis)."""

    kind: Literal["threshold"] = "threshold"
    sensor: Name
    above: float | None = Field(default=None, description="Open when value > above.")
    below: float | None = Field(default=None, description="Open when value < below.")
    clear: float = Field(description="Close when the value is back on the safe side of this.")
    min_duration_s: float = Field(default=0.0, ge=0, description="Event-time persistence.")

    @model_validator(mode="after")
    def _one_direction(self) -> ThresholdRule:
        if (self.above is None) == (self.below is None):
            raise ValueError("set exactly one of 'above' and 'below'")
        if self.above is not None and self.clear > self.above:
            raise ValueError("'clear' must not exceed 'above' (hysteresis band)")
        if self.below is not None and self.clear < self.below:
            raise ValueError("'clear' must not be under 'below' (hysteresis band)")
        return self


class RateRule(_Rule):
    """Open when ``sensor`` changes faster than ``max_per_s`` between consecutive readings;
    close when the rate is back within it."""

    kind: Literal["rate"] = "rate"
    sensor: Name
    max_per_s: float = Field(gt=0, description="Largest allowed |dvalue/dt| per second.")


class DeadmanRule(_Rule):
    """Open when a device sends nothing for ``silent_s`` seconds."""

    kind: Literal["deadman"] = "deadman"
    silent_s: float = Field(default=60.0, gt=0)


Rule = Annotated[ThresholdRule | RateRule | DeadmanRule, Field(discriminator="kind")]


class AlertRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rules: tuple[Rule, ...] = ()

    @property
    def thresholds(self) -> tuple[ThresholdRule, ...]:
        return tuple(r for r in self.rules if isinstance(r, ThresholdRule))

    @property
    def rates(self) -> tuple[RateRule, ...]:
        return tuple(r for r in self.rules if isinstance(r, RateRule))

    @property
    def deadman(self) -> DeadmanRule | None:
        return next((r for r in self.rules if isinstance(r, DeadmanRule)), None)


class CloudSettings(FieldlinkSettings):
    """Everything a cloud worker or the API needs; one env prefix ``FIELDLINK_CLOUD_``."""

    model_config = SettingsConfigDict(env_prefix="FIELDLINK_CLOUD_")

    app_id: Name = Field(
        default="fieldlink-cloud",
        title="Faust app id",
        description="Consumer group and prefix of the changelog topics; workers sharing it "
        "split the partitions.",
    )
    kafka_bootstrap: str = Field(
        default="127.0.0.1:9092", title="Kafka bootstrap", description="host:port of a broker."
    )
    topic_prefix: str = Field(
        default="fieldlink",
        pattern=r"^[A-Za-z0-9._-]{1,100}$",
        title="Kafka topic prefix",
        description="KafkaTopics(prefix): telemetry, status, alerts, deadletter topics.",
    )
    partitions: int = Field(
        default=4, ge=1, le=1024, title="Partitions", description="Partitions of the topics."
    )
    session_timeout_s: float = Field(
        default=10.0,
        ge=6,
        le=300,
        title="Kafka session timeout",
        description="How long a dead worker keeps its partitions before the group rebalances "
        "(the broker's group.min.session.timeout.ms is 6 s by default).",
    )
    store: str = Field(
        default="rocksdb://",
        pattern=r"^(memory|rocksdb)://",
        title="Table store",
        description="Faust table store: rocksdb:// (rocksdict) in production, memory:// in tests.",
    )
    data_dir: Path = Field(
        default=Path.home() / ".local" / "state" / "fieldlink" / "cloud",
        title="Data directory",
        description="Where the worker keeps its table store.",
    )
    influx_url: str = Field(default="http://127.0.0.1:8086", title="InfluxDB URL", description="")
    influx_token: str = Field(default="", title="InfluxDB token", description="API token.")
    influx_org: str = Field(default="fieldlink", title="InfluxDB org", description="")
    bucket_prefix: str = Field(
        default="",
        pattern=r"^[A-Za-z0-9._-]{0,60}$",
        title="Bucket prefix",
        description="Prepended to every bucket name (tests use it to stay apart).",
    )
    raw_retention_s: int = Field(
        default=30 * 86400, ge=0, title="Raw retention", description="Seconds; 0 keeps forever."
    )
    agg_1m_retention_s: int = Field(default=365 * 86400, ge=0, title="1-minute retention")
    agg_1h_retention_s: int = Field(default=0, ge=0, title="1-hour retention (0 = forever)")
    events_retention_s: int = Field(default=365 * 86400, ge=0, title="Events retention")
    pipeline_retention_s: int = Field(default=30 * 86400, ge=0, title="Pipeline retention")
    window_widths_s: tuple[int, ...] = Field(
        default=(60, 3600),
        min_length=1,
        title="Window widths",
        description="Tumbling event-time windows in seconds; 60 and 3600 map to the "
        "agg_1m and agg_1h buckets, any other width to agg_<n>s.",
    )
    allowed_lateness_s: float = Field(
        default=24 * 3600.0,
        gt=0,
        title="Allowed lateness",
        description="Readings older than this (event time vs processing time) are stored raw "
        "and counted but not aggregated.",
    )
    gap_timeout_s: float = Field(
        default=30.0,
        gt=0,
        title="Gap timeout",
        description="How long a seq gap may stay open before its seqs count as missing and "
        "held readings are released to the alert rules.",
    )
    batch_max_records: int = Field(
        default=256,
        ge=1,
        le=10_000,
        title="Records per batch",
        description="Most telemetry records handled as one batch (a batch is what the "
        "consumer has already delivered; nothing waits for it to fill): their points go to "
        "InfluxDB in a few coalesced requests, then state is committed and the records are "
        "acked, in order. 1 handles record by record.",
    )
    batch_max_bytes: int = Field(
        default=512 * 1024,
        ge=1,
        title="Bytes per batch",
        description="A batch also ends once its records hold this many bytes: large records "
        "(a drained backlog) go in small batches, so decoding the next batch is never far "
        "behind the InfluxDB writes of the last.",
    )
    write_retry_max_s: float = Field(
        default=5.0, gt=0, title="Write backoff cap", description="Longest pause between retries."
    )
    api_host: str = Field(default="127.0.0.1", title="API host")
    api_port: int = Field(default=8700, ge=0, le=65535, title="API port")
    reports_dir: Path | None = Field(
        default=None,
        title="Replay reports directory",
        description="Where `fieldlink lab replay` writes its report folders (report.json, "
        "report.html); the dashboard lists and serves them. None: no reports page content.",
    )
    lag_record_interval_s: float = Field(
        default=10.0,
        ge=0,
        title="Consumer lag recording interval",
        description="The API writes the workers' Kafka consumer lag to the pipeline bucket "
        "this often (for Grafana); 0 turns it off.",
    )
    live_poll_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        title="Live chart poll interval",
        description="How often a device page's event stream looks for new readings.",
    )
    alerts: AlertRules = Field(
        default_factory=lambda: AlertRules(rules=(DeadmanRule(name="deadman"),)),
        title="Alert rules",
        description="Threshold, rate and deadman rules.",
    )

    @model_validator(mode="after")
    def _widths_unique(self) -> CloudSettings:
        if (
            len(set(self.window_widths_s)) != len(self.window_widths_s)
            or min(self.window_widths_s) <= 0
        ):
            raise ValueError("window_widths_s must be distinct positive seconds")
        return self

    def bucket(self, kind: str) -> str:
        """Full name of one of the buckets: raw, agg_1m, agg_1h, events, pipeline."""
        return f"{self.bucket_prefix}{kind}"
