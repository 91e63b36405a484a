"""From buffer to broker: batching, the in-flight window, and the post-partition drain.

Readings sampled since the current connection came up are *live*: they go out as soon as a
batch fills or its oldest reading has lingered ``linger_ms``. Everything older is *backlog*
(what piled up during a partition, or before a restart): it drains oldest-first, paced by a
token bucket at ``drain_max_rate`` readings/s, interleaved with live batches so live latency
stays low while the backlog drains; backlog batches say so (``ReadingBatch.backlog``), and
a bridge with ``backlog_lane`` on gives them a Kafka topic of their own, so live batches do
not queue behind them in the cloud either. A reading leaves the buffer only when the PUBACK
of the message carrying it arrives.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

from fieldlink.messages import Channel, ReadingBatch, encode, mqtt_topic

from ..buffer import Buffer, BufferedReading
from ..settings import PublishSettings
from ._link import Ack
from ._pacing import TokenBucket

__all__ = ["Link", "Publisher", "split_by_boot"]

logger = logging.getLogger(__name__)

_RATE_WINDOW_S = 10.0


class Link(Protocol):
    """What the publisher needs from an MQTT connection (see :class:`MqttLink`)."""

    @property
    def connected(self) -> bool: ...

    @property
    def connects(self) -> int: ...

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> int: ...


def split_by_boot(items: Sequence[BufferedReading]) -> list[list[BufferedReading]]:
    """Consecutive runs sharing a boot id: a batch carries exactly one boot id.

    >>> from fieldlink.messages import Reading
    >>> r = lambda s: Reading(device="d", sensor="s", value=1.0, ts_ns=0, seq=s)
    >>> items = [BufferedReading("a" * 32, r(1), 1), BufferedReading("b" * 32, r(2), 1)]
    >>> [len(run) for run in split_by_boot(items)]
    [1, 1]
    """
    runs: list[list[BufferedReading]] = []
    for item in items:
        if runs and runs[-1][0].boot_id == item.boot_id:
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


class Publisher:
    """Moves committed readings from a :class:`Buffer` to the broker through a :class:`Link`.

    Call :meth:`pump` often (each agent loop turn) and :meth:`handle_ack` for each PUBACK.
    """

    def __init__(
        self,
        buffer: Buffer,
        link: Link,
        *,
        site: str,
        settings: PublishSettings,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._buffer = buffer
        self._link = link
        self._site = site
        self._settings = settings
        self._monotonic = monotonic
        self._topic = mqtt_topic(site, buffer.device, Channel.TELEMETRY)
        self._inflight: dict[int, list[int]] = {}
        self._inflight_seqs: set[int] = set()
        self._connects_seen = -1
        self._live_from = buffer.next_seq
        self._live_cursor = self._live_from - 1
        self._backlog_cursor = -1
        self._live_waiting_since: float | None = None
        self._last_backlog_at = 0.0
        now = monotonic()
        self._bucket = TokenBucket(rate=settings.drain_max_rate, burst=settings.batch_size, now=now)
        self._acked: deque[tuple[float, int]] = deque()
        self.published_readings = 0
        self.acked_readings = 0
        self.rejected_messages = 0

    # -- state ---------------------------------------------------------------------------

    @property
    def inflight_messages(self) -> int:
        return len(self._inflight)

    @property
    def backlog_done(self) -> bool:
        return self._backlog_cursor >= self._live_from - 1

    def publish_rate(self) -> float:
        """Readings/s acknowledged over the last ten seconds."""
        now = self._monotonic()
        while self._acked and self._acked[0][0] < now - _RATE_WINDOW_S:
            self._acked.popleft()
        return sum(n for _, n in self._acked) / _RATE_WINDOW_S

    def rewind(self) -> None:
        """Treat everything buffered and not in flight as backlog again (after a reconnect,
        a refused message, or re-stamped readings becoming publishable)."""
        self._buffer.commit()  # so the backlog's end is visible to take()
        self._live_from = self._buffer.next_seq
        self._live_cursor = self._live_from - 1
        self._backlog_cursor = -1
        self._live_waiting_since = None

    # -- work ----------------------------------------------------------------------------

    def pump(self) -> int:
        """Publish what is due; returns the number of messages handed to the link."""
        link = self._link
        if not link.connected:
            return 0
        if link.connects != self._connects_seen:
            self._connects_seen = link.connects
            self.rewind()
        sent = 0
        window = self._settings.inflight
        while len(self._inflight) < window:
            progressed = self._pump_live() + self._pump_backlog()
            if not progressed:
                break
            sent += progressed
        return sent

    def _pump_live(self) -> int:
        size = self._settings.batch_size
        newer = self._buffer.next_seq - 1 - self._live_cursor
        if newer <= 0:
            self._live_waiting_since = None
            return 0  # nothing sampled since the last live batch: skip the query
        now = self._monotonic()
        if self._live_waiting_since is None:
            self._live_waiting_since = now
        if newer < size and now - self._live_waiting_since < self._settings.linger_ms / 1000:
            return 0
        items = self._buffer.take(size, after=self._live_cursor)
        if not items:
            return 0  # appended but not committed (or held for clock sync) yet
        self._live_cursor = items[-1].reading.seq
        self._live_waiting_since = None
        return self._send(items, backlog=False)

    def _pump_backlog(self) -> int:
        if self.backlog_done:
            return 0
        now = self._monotonic()
        size = self._settings.batch_size
        tokens = int(self._bucket.available(now) + 1e-6)  # float dust
        # A partial backlog batch goes only once a full one has had time to fill, so a
        # capped drain sends full batches (fewer, larger records for the cloud to handle)
        # and only the tail of the backlog goes short.
        wait_s = max(self._settings.linger_ms / 1000, size / self._settings.drain_max_rate)
        lingered = now - self._last_backlog_at >= wait_s
        if tokens < size and not (tokens >= 1 and lingered):
            return 0
        items = self._buffer.take(
            min(tokens, size), after=self._backlog_cursor, below=self._live_from
        )
        if not items:
            self._backlog_cursor = self._live_from - 1
            logger.info("backlog drained")
            return 0
        self._backlog_cursor = items[-1].reading.seq
        items = [item for item in items if item.reading.seq not in self._inflight_seqs]
        if not items:
            return 1  # skipped readings still in flight; try further on
        self._bucket.spend(len(items))
        self._last_backlog_at = now
        return self._send(items, backlog=True)

    def _send(self, items: Sequence[BufferedReading], *, backlog: bool) -> int:
        sent = 0
        for run in split_by_boot(items):
            readings = tuple(item.reading for item in run)
            batch = ReadingBatch(
                device=self._buffer.device,
                site=self._site,
                boot_id=run[0].boot_id,
                seq_first=readings[0].seq,
                seq_last=readings[-1].seq,
                readings=readings,
                backlog=backlog,
            )
            mid = self._link.publish(self._topic, encode(batch))
            seqs = [r.seq for r in readings]
            self._inflight[mid] = seqs
            self._inflight_seqs.update(seqs)
            self._buffer.claim(seqs)  # paho re-sends it until acked: never drop these
            self.published_readings += len(seqs)
            sent += 1
        return sent

    def handle_ack(self, ack: Ack) -> None:
        seqs = self._inflight.pop(ack.mid, None)
        if seqs is None:
            return  # a status message, or a mid from before a restart
        self._inflight_seqs.difference_update(seqs)
        if not ack.ok:
            self._buffer.release(seqs)
            self.rejected_messages += 1
            logger.warning("broker refused a batch of %d readings: %s", len(seqs), ack.reason)
            self.rewind()
            return
        self._buffer.mark_published(seqs)
        self.acked_readings += len(seqs)
        self._acked.append((self._monotonic(), len(seqs)))
