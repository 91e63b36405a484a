"""The InfluxDB writer: buckets created at start, writes retried until they land.

A write that fails for a transient reason (connection refused, timeout, 5xx, 429) is retried
with capped exponential backoff for as long as it takes; :meth:`InfluxSink.write` returns
only once InfluxDB has acknowledged the points, so the worker acks the Kafka record only
after its data is stored. A write refused as invalid (4xx) raises :class:`SinkRejectedError`.

Writes are coalesced per bucket (:meth:`InfluxSink.submit`): whatever callers queue while a
bucket's request is in flight goes out in the next one, in queue order.

>>> from cloud.settings import CloudSettings
>>> sink = InfluxSink(CloudSettings.load(bucket_prefix="t1-"))
>>> sink.bucket("raw"), bucket_for_width(60), bucket_for_width(90)
('t1-raw', 'agg_1m', 'agg_90s')
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync
from influxdb_client.domain.bucket_retention_rules import BucketRetentionRules
from influxdb_client.rest import ApiException

from cloud.settings import CloudSettings

from .errors import SinkError, SinkRejectedError

__all__ = ["BUCKET_KINDS", "InfluxSink", "bucket_for_width"]

logger = logging.getLogger(__name__)

BUCKET_KINDS = ("raw", "events", "pipeline")


_Queued = tuple[Sequence[str], "asyncio.Future[None]"]


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():  # the caller gave up waiting (cancelled)
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


def bucket_for_width(width_s: int) -> str:
    return {60: "agg_1m", 3600: "agg_1h"}.get(width_s, f"agg_{width_s}s")


class InfluxSink:
    """Writes line protocol to the tier's buckets; see the module docstring."""

    def __init__(
        self,
        settings: CloudSettings,
        *,
        client: InfluxDBClientAsync | None = None,
        sleep: Any = asyncio.sleep,
        max_lines_per_write: int = 20_000,
        concurrency: int = 4,
    ):
        self.settings = settings
        self._client = client
        self._sleep = sleep
        self.retries = 0
        self.points_written = 0
        self.requests = 0
        self.max_lines_per_write = max_lines_per_write
        self._queues: dict[str, deque[_Queued]] = {}
        self._queued: dict[str, int] = {}  # lines waiting in each bucket's queue
        self._ordered: set[str] = set()  # aggregate buckets: one request at a time
        self.concurrency = concurrency
        self._flushers: dict[str, list[asyncio.Future[None]]] = {}
        self.write_seconds: list[float] = []

    def bucket(self, kind: str) -> str:
        return self.settings.bucket(kind)

    def _retentions(self) -> dict[str, int]:
        s = self.settings
        out = {
            "raw": s.raw_retention_s,
            "events": s.events_retention_s,
            "pipeline": s.pipeline_retention_s,
        }
        for width in s.window_widths_s:
            out[bucket_for_width(width)] = (
                s.agg_1h_retention_s if width >= 3600 else s.agg_1m_retention_s
            )
        return out

    def ensure_buckets(self) -> list[str]:
        """Create every missing bucket with its retention; return the ones created."""
        s = self.settings
        created = []
        try:
            with InfluxDBClient(url=s.influx_url, token=s.influx_token, org=s.influx_org) as c:
                api = c.buckets_api()
                for kind, retention in self._retentions().items():
                    name = self.bucket(kind)
                    if api.find_bucket_by_name(name) is not None:
                        continue
                    rules = BucketRetentionRules(type="expire", every_seconds=retention)  # type: ignore[no-untyped-call]
                    try:
                        api.create_bucket(
                            bucket_name=name,
                            org=s.influx_org,
                            retention_rules=[rules] if retention else [],
                        )
                    except ApiException as exc:
                        if exc.status == 422 and "already exists" in str(exc.body):
                            continue  # another worker starting at the same time made it
                        raise
                    created.append(name)
        except (ApiException, OSError) as exc:
            raise SinkError(f"cannot create buckets at {s.influx_url}: {exc}") from exc
        if created:
            logger.info("created InfluxDB buckets %s", ", ".join(created))
        return created

    async def start(self) -> None:
        if self._client is None:
            s = self.settings
            self._client = InfluxDBClientAsync(
                url=s.influx_url, token=s.influx_token, org=s.influx_org, timeout=30_000
            )

    async def close(self) -> None:
        for flushers in self._flushers.values():
            for flusher in flushers:
                flusher.cancel()
        self._flushers.clear()
        if self._client is not None:
            await self._client.close()  # type: ignore[no-untyped-call]
            self._client = None

    def submit(
        self, kind: str, lines: Sequence[str], *, flush: bool = True
    ) -> asyncio.Future[None]:
        """Queue ``lines`` for bucket ``kind`` now; the future resolves once InfluxDB has
        acknowledged them (or fails with :class:`SinkRejectedError`).

        Lines queued for a bucket while its writes are in flight go out together in the next
        request, so many small records cost one round trip. An aggregate bucket has one
        request in flight at a time, so its lines land in the order they were queued and an
        older window snapshot can never overwrite a newer one; the other buckets (whose
        points are the same whoever writes them) have up to ``concurrency``.

        With ``flush=False`` the lines wait for :meth:`flush` (or for a full request's worth
        of lines), so a caller queueing a batch record by record sends it in one request per
        bucket; the caller must call :meth:`flush` before it awaits the future.
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if not lines:
            future.set_result(None)
            return future
        bucket = self.bucket(kind)
        queue = self._queues.get(bucket)
        if queue is None:
            queue = self._queues[bucket] = deque()
            if kind.startswith("agg"):
                self._ordered.add(bucket)
        queue.append((lines, future))
        self._queued[bucket] = self._queued.get(bucket, 0) + len(lines)
        if flush or self._queued[bucket] >= self.max_lines_per_write:
            self._kick(bucket)
        return future

    def flush(self) -> None:
        """Start sending every queued line (see :meth:`submit`)."""
        for bucket, queue in self._queues.items():
            if queue:
                self._kick(bucket)

    def _kick(self, bucket: str) -> None:
        flushers = [f for f in self._flushers.get(bucket, []) if not f.done()]
        if len(flushers) < (1 if bucket in self._ordered else self.concurrency):
            flushers.append(asyncio.ensure_future(self._flush(bucket, self._queues[bucket])))
        self._flushers[bucket] = flushers

    async def write(self, kind: str, lines: Sequence[str]) -> None:
        """Write ``lines`` to bucket ``kind``, retrying transient failures until it lands."""
        await self.submit(kind, lines)

    async def _flush(self, bucket: str, queue: deque[_Queued]) -> None:
        while queue:
            batch: list[_Queued] = []
            size = 0
            while queue and (not batch or size + len(queue[0][0]) <= self.max_lines_per_write):
                batch.append(queue.popleft())
                size += len(batch[-1][0])
            self._queued[bucket] -= size
            try:
                await self._post(bucket, [line for lines, _ in batch for line in lines])
            except SinkRejectedError as exc:
                if len(batch) == 1:
                    _settle(batch[0][1], exc)
                    continue
                # Someone's lines are invalid: write each caller's lines on their own, so
                # only theirs are refused.
                for lines, future in batch:
                    try:
                        await self._post(bucket, lines)
                    except SinkRejectedError as single:
                        _settle(future, single)
                    except Exception as other:  # noqa: BLE001 - handed to the waiting caller
                        _settle(future, other)
                    else:
                        _settle(future, None)
                continue
            except Exception as exc:  # noqa: BLE001 - handed to the waiting callers
                for _, future in batch:
                    _settle(future, exc)
                continue
            for _, future in batch:
                _settle(future, None)

    async def _post(self, bucket: str, lines: Sequence[str]) -> None:
        if self._client is None:
            await self.start()
        assert self._client is not None
        body = "\n".join(lines)
        delay = 0.05
        started = time.perf_counter()
        while True:
            try:
                await self._client.write_api().write(bucket=bucket, record=body)
            except ApiException as exc:
                status = int(exc.status or 0)
                if 400 <= status < 500 and status != 429:
                    raise SinkRejectedError(bucket, status, str(exc.body)[:500]) from None
                self._backoff_note(bucket, exc)
            except (OSError, TimeoutError) as exc:
                self._backoff_note(bucket, exc)
            except Exception as exc:  # aiohttp.ClientError and friends: transient by nature
                if exc.__class__.__module__.startswith("aiohttp"):
                    self._backoff_note(bucket, exc)
                else:
                    raise
            else:
                self.points_written += len(lines)
                self.requests += 1
                self.write_seconds.append(time.perf_counter() - started)
                del self.write_seconds[:-1000]
                return
            await self._sleep(delay)
            delay = min(delay * 2, self.settings.write_retry_max_s)

    def _backoff_note(self, bucket: str, exc: BaseException) -> None:
        self.retries += 1
        if self.retries % 20 == 1:
            logger.warning("InfluxDB write to %s failed (%s); retrying", bucket, exc)
