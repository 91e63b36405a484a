"""A fault-injecting TCP proxy: latency, jitter, loss, blackhole and refusal in user space.

The kernel's netem qdisc is not available on every machine (nor to a laptop user without
root), so the lab puts this proxy between a device and the broker. TCP never loses bytes, so
"loss" here is what a lost segment costs a TCP stream: a retransmission delay (``rto_ms``)
for the chunk that was "lost". Jitter never reorders bytes: each direction delivers chunks in
order, each no earlier than its predecessor.

>>> proxy = FaultProxy(target=("127.0.0.1", 1883), seed=7)     # doctest: +SKIP
>>> await proxy.start()                                         # doctest: +SKIP
>>> proxy.faults = Faults(latency_ms=80, jitter_ms=40, loss=0.02)  # doctest: +SKIP
>>> proxy.faults = Faults(blackhole=True)   # connections hang   # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import struct
import time
from dataclasses import dataclass, field

__all__ = ["FaultProxy", "Faults"]

logger = logging.getLogger(__name__)

_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Faults:
    """What the proxy does to traffic now. The default is a transparent proxy."""

    latency_ms: float = 0.0
    """One-way delay added to every chunk, in both directions."""
    jitter_ms: float = 0.0
    """Uniform random extra delay in [0, jitter_ms]; order is preserved."""
    loss: float = 0.0
    """Probability that a chunk is 'lost' and pays a retransmission delay."""
    rto_ms: float = 200.0
    """Retransmission delay paid by a 'lost' chunk."""
    blackhole: bool = False
    """Forward nothing and answer nothing: connections hang (like an nftables drop)."""
    refuse: bool = False
    """Reset existing connections and refuse new ones (like a link going down)."""

    def __post_init__(self) -> None:
        if self.latency_ms < 0 or self.jitter_ms < 0 or self.rto_ms < 0:
            raise ValueError("delays are never negative")
        if not 0.0 <= self.loss < 1.0:
            raise ValueError("loss is a probability in [0, 1)")


@dataclass
class _Stats:
    connections: int = 0
    refused: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    lost_chunks: int = 0
    open_connections: set[asyncio.Task[None]] = field(default_factory=set)


class FaultProxy:
    """Listens on ``listen`` and forwards every connection to ``target``.

    ``faults`` may be replaced at any time; it applies to chunks read after the change.
    ``seed`` makes the random choices (jitter, loss) repeatable.
    """

    def __init__(
        self,
        target: tuple[str, int],
        *,
        listen: tuple[str, int] = ("127.0.0.1", 0),
        seed: int = 0,
    ):
        self.target = target
        self._listen = listen
        self._random = random.Random(seed)  # noqa: S311 - fault schedule, not security
        self.faults = Faults()
        self.stats = _Stats()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def address(self) -> tuple[str, int]:
        if self._server is None:
            raise RuntimeError("proxy not started")
        host, port = self._server.sockets[0].getsockname()[:2]
        return str(host), int(port)

    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._accept, *self._listen)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self.reset_connections()
            await self._server.wait_closed()
            self._server = None
        for task in list(self.stats.open_connections):
            task.cancel()
        await asyncio.gather(*self.stats.open_connections, return_exceptions=True)

    def reset_connections(self) -> None:
        """Abort every open connection with a TCP RST."""
        for writer in list(self._writers):
            _abort(writer)
        self._writers.clear()

    def set_faults(self, faults: Faults) -> None:
        self.faults = faults
        if faults.refuse:
            self.reset_connections()

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if self.faults.refuse:
            self.stats.refused += 1
            _abort(client_w)
            return
        try:
            server_r, server_w = await asyncio.open_connection(*self.target)
        except OSError as exc:
            logger.warning("proxy: cannot reach %s:%s: %s", *self.target, exc)
            _abort(client_w)
            return
        self.stats.connections += 1
        self._writers.update((client_w, server_w))
        task = asyncio.current_task()
        assert task is not None
        self.stats.open_connections.add(task)
        try:
            await asyncio.gather(
                self._pump(client_r, server_w, upstream=True),
                self._pump(server_r, client_w, upstream=False),
            )
        finally:
            self.stats.open_connections.discard(task)
            for writer in (client_w, server_w):
                self._writers.discard(writer)
                writer.close()

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, upstream: bool
    ) -> None:
        not_before = 0.0
        try:
            while True:
                data = await reader.read(_CHUNK)
                if not data:
                    break
                faults = self.faults
                while faults.blackhole:  # hold the bytes until the hole closes
                    await asyncio.sleep(0.05)
                    faults = self.faults
                    if faults.refuse:
                        return
                delay = faults.latency_ms
                if faults.jitter_ms:
                    delay += self._random.uniform(0, faults.jitter_ms)
                if faults.loss and self._random.random() < faults.loss:
                    delay += faults.rto_ms
                    self.stats.lost_chunks += 1
                due = max(time.monotonic() + delay / 1000, not_before)
                not_before = due
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()
                if upstream:
                    self.stats.bytes_up += len(data)
                else:
                    self.stats.bytes_down += len(data)
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                if writer.can_write_eof():
                    writer.write_eof()


def _abort(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
