"""The fault proxy against a real TCP echo server on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from lab.network import FaultProxy, Faults

pytestmark = pytest.mark.integration


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass  # the proxy resets connections on purpose in some tests
    finally:
        writer.close()


@pytest.fixture
async def proxy() -> AsyncIterator[FaultProxy]:
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    host, port = server.sockets[0].getsockname()[:2]
    proxy = await FaultProxy((host, port), seed=42).start()
    yield proxy
    await proxy.stop()
    server.close()
    await server.wait_closed()


async def _round_trip(proxy: FaultProxy, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(*proxy.address)
    writer.write(payload)
    await writer.drain()
    received = await asyncio.wait_for(reader.readexactly(len(payload)), 10)
    writer.close()
    return received


async def test_transparent_by_default(proxy: FaultProxy) -> None:
    payload = bytes(range(256)) * 4000
    assert await _round_trip(proxy, payload) == payload
    assert proxy.stats.bytes_up == len(payload)
    assert proxy.stats.bytes_down == len(payload)


async def test_latency_jitter_and_loss_keep_every_byte_in_order(proxy: FaultProxy) -> None:
    proxy.set_faults(Faults(latency_ms=5, jitter_ms=20, loss=0.3, rto_ms=10))
    reader, writer = await asyncio.open_connection(*proxy.address)
    chunks = [f"{i:06d};".encode() for i in range(300)]
    for chunk in chunks:
        writer.write(chunk)
        await writer.drain()
        await asyncio.sleep(0)
    received = await asyncio.wait_for(reader.readexactly(sum(map(len, chunks))), 30)
    writer.close()
    assert received == b"".join(chunks)


async def test_latency_is_added_each_way(proxy: FaultProxy) -> None:
    proxy.set_faults(Faults(latency_ms=150))
    started = time.monotonic()
    await _round_trip(proxy, b"ping")
    # Functional check of the fault, not a speed target: one round trip crosses it twice.
    assert time.monotonic() - started >= 0.3


async def test_blackhole_hangs_then_delivers_after_heal(proxy: FaultProxy) -> None:
    reader, writer = await asyncio.open_connection(*proxy.address)
    proxy.set_faults(Faults(blackhole=True))
    writer.write(b"held")
    await writer.drain()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.readexactly(4), 0.5)
    proxy.set_faults(Faults())
    assert await asyncio.wait_for(reader.readexactly(4), 5) == b"held"
    writer.close()


async def test_refuse_resets_open_and_new_connections(proxy: FaultProxy) -> None:
    reader, writer = await asyncio.open_connection(*proxy.address)
    writer.write(b"up")
    assert await asyncio.wait_for(reader.readexactly(2), 5) == b"up"
    proxy.set_faults(Faults(refuse=True))
    with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
        await asyncio.wait_for(reader.readexactly(1), 5)
    writer.close()

    reader2, writer2 = await asyncio.open_connection(*proxy.address)
    with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
        await asyncio.wait_for(reader2.readexactly(1), 5)
    writer2.close()
    assert proxy.stats.refused == 1
    proxy.set_faults(Faults())
    assert await _round_trip(proxy, b"back") == b"back"


def test_faults_validate_themselves() -> None:
    with pytest.raises(ValueError, match="probability"):
        Faults(loss=1.5)
    with pytest.raises(ValueError, match="negative"):
        Faults(latency_ms=-1)
