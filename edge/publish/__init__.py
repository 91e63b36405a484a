"""Publishing: the MQTT v5 session and the buffer-to-broker pump."""

from ._link import Ack, Incoming, MqttLink
from ._pacing import Backoff, TokenBucket
from ._publisher import Link, Publisher, split_by_boot

__all__ = [
    "Ack",
    "Backoff",
    "Incoming",
    "Link",
    "MqttLink",
    "Publisher",
    "TokenBucket",
    "split_by_boot",
]
