"""Prometheus text exposition of the pipeline's health.

>>> print(render({"consumer_lag": {"0": 3}, "totals": {"records": 7}, "workers": []}), end="")
# HELP fieldlink_cloud_consumer_lag Telemetry records not yet committed by the workers.
# TYPE fieldlink_cloud_consumer_lag gauge
fieldlink_cloud_consumer_lag{partition="0"} 3.0
# HELP fieldlink_cloud_records_total Sum over workers since their start.
# TYPE fieldlink_cloud_records_total counter
fieldlink_cloud_records_total 7.0
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

__all__ = ["render"]


class _Snapshot:
    def __init__(self, health: dict[str, Any]):
        self.health = health

    def collect(self) -> Any:
        lag = GaugeMetricFamily(
            "fieldlink_cloud_consumer_lag",
            "Telemetry records not yet committed by the workers.",
            labels=["partition"],
        )
        for partition, value in sorted((self.health.get("consumer_lag") or {}).items()):
            lag.add_metric([partition], value)
        yield lag
        for name, value in sorted(self.health.get("totals", {}).items()):
            yield CounterMetricFamily(
                f"fieldlink_cloud_{name}", "Sum over workers since their start.", value=value
            )
        for key in (
            "latency_p50_s", "latency_p99_s", "write_p50_s", "write_p99_s",
            "edge_to_kafka_p50_s", "edge_to_kafka_p99_s",
            "kafka_to_stored_p50_s", "kafka_to_stored_p99_s",
            "backlog_kafka_to_stored_p50_s", "backlog_kafka_to_stored_p99_s",
        ):  # fmt: skip
            gauge = GaugeMetricFamily(
                f"fieldlink_cloud_{key}", "Per worker, over recent records.", labels=["worker"]
            )
            for worker in self.health.get("workers", []):
                if key in worker:
                    gauge.add_metric([worker["worker"]], worker[key])
            if gauge.samples:
                yield gauge


def render(health: dict[str, Any]) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(health))
    return generate_latest(registry).decode()
