"""The at-least-once MQTT <-> Kafka bridge.

Upstream: shared subscription to every device's telemetry and status, validation with
:mod:`fieldlink.messages`, idempotent Kafka produce keyed by device, PUBACK only after Kafka
acknowledged; bad input to the dead-letter topic with its reason. Downstream: alerts and
commands from Kafka to the devices' MQTT topics.
"""

from .metrics import BridgeMetrics
from .routing import Downlink, Route, Router
from .service import Bridge
from .settings import BridgeSettings, TopicSettings

__all__ = [
    "Bridge",
    "BridgeMetrics",
    "BridgeSettings",
    "Downlink",
    "Route",
    "Router",
    "TopicSettings",
]
