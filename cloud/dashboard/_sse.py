"""Server-Sent Events: the wire format, and the loop that feeds a device page.

>>> event("readings", {"n": 1}, event_id=7)
b'id: 7\\nevent: readings\\ndata: {"n":1}\\n\\n'
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson

from ._series import Series

__all__ = ["event", "live_events"]

logger = logging.getLogger(__name__)


def event(name: str, data: Any, *, event_id: int | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\n".encode() + b"data: " + orjson.dumps(data) + b"\n\n"


async def live_events(
    series: Series,
    device: str,
    since_ns: int,
    *,
    poll_s: float,
    heartbeat_s: float = 15.0,
    unavailable: type[Exception] = ConnectionError,
) -> AsyncIterator[bytes]:
    """New readings of ``device`` every ``poll_s``, forever (the server stops iterating when
    the browser goes). Each event's id is the newest event time sent, so a reconnecting
    browser (``Last-Event-ID``) resumes where it was. InfluxDB being down is an event too."""
    yield b"retry: 2000\n\n"
    quiet = 0.0
    while True:
        try:
            sensors, newest = await series.after(device, since_ns)
        except unavailable as exc:
            logger.warning("live stream of %s: %s", device, exc)
            yield event("unavailable", {"reason": str(exc)})
        else:
            if sensors:
                since_ns = newest
                quiet = 0.0
                yield event("readings", {"sensors": sensors, "until_ns": newest}, event_id=newest)
            elif quiet >= heartbeat_s:
                quiet = 0.0
                yield b": keep-alive\n\n"
        await asyncio.sleep(poll_s)
        quiet += poll_s
