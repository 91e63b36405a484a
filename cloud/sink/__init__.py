"""InfluxDB storage: line protocol for readings, aggregates and alerts; a retrying writer."""

from .errors import SinkError, SinkRejectedError
from .influx import BUCKET_KINDS, InfluxSink, bucket_for_width
from .lines import aggregate_line, alert_line, reading_line, status_line

__all__ = [
    "BUCKET_KINDS",
    "InfluxSink",
    "SinkError",
    "SinkRejectedError",
    "aggregate_line",
    "alert_line",
    "bucket_for_width",
    "reading_line",
    "status_line",
]
