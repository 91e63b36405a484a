"""Settings of the MQTT <-> Kafka bridge: a TOML file plus ``FIELDLINK_BRIDGE_*`` variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from broker.topics import TopicSpec
from fieldlink.messages import DEFAULT_MAX_PAYLOAD_BYTES, KafkaTopics
from fieldlink.settings import FieldlinkSettings, SettingsConfigDict

__all__ = ["BridgeSettings", "TopicSettings"]

_DAY_MS = 24 * 3600 * 1000


class TopicSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    partitions: int = Field(ge=1, le=1000, description="Partitions (= consumer parallelism).")
    retention_ms: int = Field(ge=-1, description="How long Kafka keeps records; -1 forever.")

    def spec(self) -> TopicSpec:
        return TopicSpec(self.partitions, self.retention_ms)


class BridgeSettings(FieldlinkSettings):
    """Where the bridge reads MQTT, where it writes Kafka, and how hard it validates.

    >>> BridgeSettings.load(mqtt_client_id="bridge-a").kafka_topics.telemetry
    'fieldlink.telemetry'
    """

    model_config = SettingsConfigDict(env_prefix="FIELDLINK_BRIDGE_", title="Bridge settings")

    mqtt_host: str = Field(default="127.0.0.1", title="MQTT host", description="Broker address.")
    mqtt_port: int = Field(default=1883, ge=1, le=65535, title="MQTT port", description="Port.")
    mqtt_username: str | None = Field(
        default="fieldlink-bridge",
        title="MQTT username",
        description="The bridge credential (reads all telemetry/status, writes commands/alerts).",
    )
    mqtt_password: SecretStr | None = Field(default=None, description="Its password.")
    mqtt_tls_ca: Path | None = Field(
        default=None, description="CA certificate (PEM); set to connect with TLS."
    )
    mqtt_tls_cert: Path | None = Field(default=None, description="Client certificate (PEM).")
    mqtt_tls_key: Path | None = Field(default=None, description="Client key (PEM).")
    mqtt_client_id: str = Field(
        default="fieldlink-bridge-1",
        min_length=1,
        max_length=128,
        description="Fixed per instance: the persistent session Mosquitto keeps for it is what "
        "redelivers unacknowledged messages after a crash. Two instances need two ids.",
    )
    mqtt_session_expiry_s: int = Field(
        default=7 * 24 * 3600,
        ge=60,
        description="How long Mosquitto keeps the session (and queues for it) while the bridge "
        "is away.",
    )
    mqtt_receive_maximum: int = Field(
        default=2000,
        ge=1,
        le=65535,
        description="Unacknowledged QoS1 messages Mosquitto may have in flight to this bridge: "
        "the pipeline depth between MQTT and Kafka.",
    )
    share_group: str = Field(
        default="fieldlink-bridge",
        pattern=r"^[A-Za-z0-9_-]*$",
        description="Shared-subscription group: instances in one group split the load. "
        "Empty subscribes without $share: one bridge gets everything. Mosquitto 2.0.11 "
        "(Debian 12) does not persist shared subscriptions, so after a Mosquitto restart "
        "messages published before the bridge resubscribes have no subscriber and are lost; "
        "a plain subscription is persisted with the session and loses nothing. Use "
        "share_group = '' with a single bridge when Mosquitto restarts must be lossless.",
    )
    kafka_bootstrap: str = Field(
        default="127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated."
    )
    topic_prefix: str = Field(
        default="fieldlink",
        pattern=r"^[A-Za-z0-9._-]+$",
        description="Kafka topic prefix (fieldlink.messages.KafkaTopics).",
    )
    create_topics: bool = Field(default=True, description="Create missing topics at start.")
    telemetry_topic: TopicSettings = TopicSettings(partitions=6, retention_ms=7 * _DAY_MS)
    # The same partition count as telemetry: the workers' state table is co-partitioned with both.
    status_topic: TopicSettings = TopicSettings(partitions=6, retention_ms=7 * _DAY_MS)
    alerts_topic: TopicSettings = TopicSettings(partitions=3, retention_ms=30 * _DAY_MS)
    commands_topic: TopicSettings = TopicSettings(partitions=3, retention_ms=1 * _DAY_MS)
    deadletter_topic: TopicSettings = TopicSettings(partitions=1, retention_ms=30 * _DAY_MS)
    backlog_lane: bool = Field(
        default=False,
        description="Put batches an edge drained from its buffer (ReadingBatch.backlog) on "
        "the backlog topic, which the workers read after live records. Off: all telemetry "
        "on the live topic, as before. Measured in the lab's recovery run on a 2-core box "
        "(cloud/README.md), agents draining uncapped: on, the live p99 during a fleet "
        "drain fell from 12.8-13.5 s to 8.5 s, but the p50 rose from 0.3 s to 1.8 s and the "
        "catch-up from 16 s to 57 s. Capping the agents' drain (deploy/SIZING.md, rule 4) "
        "met the 2 s target without it.",
    )
    kafka_linger_ms: int = Field(
        default=5, ge=0, le=1000, description="Producer batching delay (latency vs throughput)."
    )
    kafka_retry_backoff_s: float = Field(
        default=0.5, gt=0, le=60, description="Wait between retries of a failed produce."
    )
    downstream: bool = Field(
        default=True, description="Carry alerts and commands from Kafka to the devices."
    )
    downstream_group: str = Field(
        default="fieldlink-bridge-downstream",
        description="Kafka consumer group of the alerts/commands direction.",
    )
    max_payload_bytes: int = Field(
        default=DEFAULT_MAX_PAYLOAD_BYTES,
        ge=1024,
        description="Larger payloads are dead-lettered with reason 'oversized'.",
    )
    metrics_host: str = Field(default="127.0.0.1", description="Prometheus endpoint address.")
    metrics_port: int = Field(
        default=9108, ge=0, le=65535, description="Prometheus endpoint port; 0 disables it."
    )

    @property
    def kafka_topics(self) -> KafkaTopics:
        return KafkaTopics(self.topic_prefix)

    def topic_specs(self) -> dict[str, TopicSpec]:
        topics = self.kafka_topics
        return {
            topics.telemetry: self.telemetry_topic.spec(),
            topics.telemetry_backlog: self.telemetry_topic.spec(),  # the same keys, partitions
            topics.status: self.status_topic.spec(),
            topics.alerts: self.alerts_topic.spec(),
            topics.commands: self.commands_topic.spec(),
            topics.deadletter: self.deadletter_topic.spec(),
        }
