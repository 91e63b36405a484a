"""Consumer lag into InfluxDB, so Grafana (which reads only InfluxDB) can chart it.

Kafka knows the lag, InfluxDB does not: the API measures it every ``lag_record_interval_s``
and writes one ``consumer_lag`` point per partition to the pipeline bucket
(tags ``group``, ``topic``, ``partition``; field ``lag``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from cloud.settings import CloudSettings
from cloud.sink import InfluxSink
from cloud.sink.lines import tagged
from fieldlink.messages import KafkaTopics

from ._reader import Reader, UpstreamError

__all__ = ["LagRecorder"]

logger = logging.getLogger(__name__)


class LagRecorder:
    """Measure the worker group's lag and store it.

    >>> from cloud.settings import CloudSettings
    >>> LagRecorder(CloudSettings.load(app_id="demo")).line({"0": 3}, 5)
    ['consumer_lag,group=demo,partition=0,topic=fieldlink.telemetry lag=3i 5']
    """

    def __init__(
        self,
        settings: CloudSettings,
        *,
        reader: Reader | None = None,
        sink: InfluxSink | None = None,
        clock: Callable[[], int] = time.time_ns,
    ):
        self.settings = settings
        self.reader = reader or Reader(settings)
        self.sink = sink or InfluxSink(settings)
        self.clock = clock
        self.failures = 0

    def line(self, lag: dict[str, int], ts_ns: int) -> list[str]:
        topic = KafkaTopics(self.settings.topic_prefix).telemetry
        return [
            tagged(
                "consumer_lag",
                {"group": self.settings.app_id, "topic": topic, "partition": partition},
                {"lag": value},
                ts_ns,
            )
            for partition, value in sorted(lag.items(), key=lambda kv: int(kv[0]))
        ]

    async def record_once(self) -> dict[str, int]:
        lag = await self.reader.consumer_lag()
        await self.sink.write("pipeline", self.line(lag, self.clock()))
        return lag

    async def run(self, interval_s: float) -> None:
        """Until cancelled; a failed measurement is logged and counted, never fatal."""
        while True:
            try:
                await self.record_once()
            except UpstreamError as exc:
                self.failures += 1
                logger.warning("consumer lag not recorded: %s", exc)
            await asyncio.sleep(interval_s)
