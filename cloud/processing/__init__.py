"""The pure core of the cloud tier: dedup, event-time windows and alert rules.

Nothing here imports Faust, Kafka or InfluxDB; the worker translates and delegates.
"""

from .alerts import AlertEngine, DeviceLiveness, alert_id
from .dedup import SeqTracker
from .pipeline import Outcome, Processor
from .windows import WindowAggregate, WindowStats, window_start

__all__ = [
    "AlertEngine",
    "DeviceLiveness",
    "Outcome",
    "Processor",
    "SeqTracker",
    "WindowAggregate",
    "WindowStats",
    "alert_id",
    "window_start",
]
