"""The bridge's numbers, in Prometheus text format on ``/metrics``.

Rates (messages/s, readings/s) are ``rate()`` of the counters, as Prometheus intends.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

__all__ = ["BridgeMetrics"]


class BridgeMetrics:
    """Counters and histograms, in their own registry so several bridges (tests) can coexist.

    >>> metrics = BridgeMetrics()
    >>> metrics.deadletters.labels(reason="malformed").inc()
    >>> metrics.value("fieldlink_bridge_deadletters_total", reason="malformed")
    1.0
    """

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        self.messages = Counter(
            "fieldlink_bridge_messages",
            "MQTT messages forwarded to Kafka (acknowledged by Kafka), by channel.",
            ["channel"],
            registry=self.registry,
        )
        self.readings = Counter(
            "fieldlink_bridge_readings",
            "Readings inside forwarded telemetry batches.",
            registry=self.registry,
        )
        self.deadletters = Counter(
            "fieldlink_bridge_deadletters",
            "Messages sent to the dead-letter topic, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.produce_retries = Counter(
            "fieldlink_bridge_produce_retries",
            "Kafka produce attempts that failed and were retried.",
            registry=self.registry,
        )
        self.stale_acks = Counter(
            "fieldlink_bridge_stale_acks",
            "Acknowledgements skipped because the MQTT connection they belonged to is gone "
            "(Mosquitto redelivers those messages: duplicates, never loss).",
            registry=self.registry,
        )
        self.downlinks = Counter(
            "fieldlink_bridge_downlinks",
            "Alerts and commands published to devices (PUBACKed), by channel.",
            ["channel"],
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "fieldlink_bridge_in_flight",
            "MQTT messages received but not yet acknowledged.",
            registry=self.registry,
        )
        self.produce_latency = Histogram(
            "fieldlink_bridge_produce_latency_seconds",
            "From MQTT arrival to Kafka acknowledgement.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )

    def serve(self, host: str, port: int) -> None:
        """Expose ``/metrics`` over HTTP (a daemon thread)."""
        start_http_server(port, addr=host, registry=self.registry)

    def value(self, name: str, **labels: str) -> float:
        sample = self.registry.get_sample_value(name, labels or None)
        return sample or 0.0
