"""The built-in dashboard: static pages (fleet, device, alerts, replay reports) and the
pieces the API serves them with (chart series, live events, the reports folder).

The pages are plain HTML and JavaScript in ``static/``; charts are drawn by uPlot, vendored
in ``static/vendor/`` (version and licence in its README). Data comes from the API's JSON
routes; a device page's charts are updated by Server-Sent Events.
"""

from pathlib import Path

from ._reports import list_reports
from ._series import Series, fold
from ._sse import event, live_events

STATIC_DIR = Path(__file__).resolve().parent / "static"

__all__ = ["STATIC_DIR", "Series", "event", "fold", "list_reports", "live_events"]
