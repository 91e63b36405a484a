"""Edge benchmark (not a test): ``python -m edge.bench``.

Prints, on this machine:

1. buffer append rate (readings/s) into the SQLite buffer with the default 200 ms durability
   window, in agent-sized appends (10 readings) and in batches of 100;
2. drain rate (readings/s): a 200,000-reading backlog published to a local Mosquitto with QoS1
   and deleted on PUBACK, through the real publisher and MQTT link;
3. the agent's RSS and CPU share while sampling simulated sensors at 100 readings/s and
   publishing them (the agent runs as its own process, measured with psutil).

It starts its own Mosquitto (``mosquitto`` on PATH or in /usr/sbin) on a free port.
Targets: append >= 100,000/s, drain >= 20,000/s, RSS <= 60 MB, CPU <= 3% of one core.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil

from fieldlink.messages import Channel, DeviceStatus, Reading, encode, mqtt_topic

from .buffer import SqliteBuffer
from .publish import MqttLink, Publisher
from .settings import MqttSettings, PublishSettings

DEVICE = "bench-pi"


def _readings(first: int, count: int) -> list[Reading]:
    return [
        Reading(device=DEVICE, sensor="temp", value=21.5, unit="degC", ts_ns=time.time_ns(), seq=s)
        for s in range(first, first + count)
    ]


def bench_append(workdir: Path, total: int, chunk: int) -> float:
    readings = _readings(0, total)
    path = workdir / f"append-{chunk}.sqlite3"
    with SqliteBuffer(path, device=DEVICE, durability_ms=200) as buffer:
        started = time.perf_counter()
        for i in range(0, total, chunk):
            buffer.append(readings[i : i + chunk])
        buffer.commit()
        elapsed = time.perf_counter() - started
    return total / elapsed


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def mosquitto(workdir: Path) -> Iterator[int]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = _free_port()
    config = workdir / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n"
        f"max_inflight_messages 0\npersistence false\nlog_dest none\n"
    )
    proc = subprocess.Popen([binary, "-c", str(config)], stdout=subprocess.DEVNULL)  # noqa: S603
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("mosquitto did not start")
            time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def bench_drain(workdir: Path, port: int, total: int) -> float:
    path = workdir / "drain.sqlite3"
    buffer = SqliteBuffer(path, device=DEVICE, durability_ms=200)
    for i in range(0, total, 1000):
        buffer.append(_readings(i, 1000))
    buffer.commit()
    settings = PublishSettings(drain_max_rate=1e9, inflight=32, batch_size=500)
    offline = DeviceStatus(
        device=DEVICE, site="bench", boot_id=buffer.boot_id, ts_ns=0, online=False
    )
    link = MqttLink(
        MqttSettings(port=port),
        client_id=DEVICE,
        will=(mqtt_topic("bench", DEVICE, Channel.STATUS), encode(offline)),
        subscriptions=[],
        inflight=settings.inflight,
    )
    publisher = Publisher(buffer, link, site="bench", settings=settings)
    link.start()
    while not link.connected:
        time.sleep(0.01)
    started = time.perf_counter()
    while buffer.stats().depth:
        publisher.pump()
        ack = link.acks.get()
        publisher.handle_ack(ack)
        while not link.acks.empty():
            publisher.handle_ack(link.acks.get_nowait())
    buffer.commit()
    elapsed = time.perf_counter() - started
    link.stop()
    buffer.close()
    return total / elapsed


def bench_agent(workdir: Path, port: int, seconds: float) -> tuple[float, float, float]:
    """(RSS MB, CPU % of one core, readings/s sampled) of a simulated agent at 100/s."""
    config = workdir / "agent.toml"
    config.write_text(
        f'device = "{DEVICE}"\nsite = "bench"\nclock = "trusted"\n'
        f"[mqtt]\nport = {port}\n"
        f'[buffer]\npath = "{workdir / "agent.sqlite3"}"\n'
        f'[[sensors]]\nname = "air"\nkind = "analog"\nchannel = 0\nhz = 40\nunit = "degC"\n'
        f"calibration = {{ scale = 100.0, offset = -50.0 }}\n"
        f'[[sensors]]\nname = "cpu"\nkind = "cpu_temperature"\nhz = 30\nunit = "degC"\n'
        f'[[sensors]]\nname = "door"\nkind = "digital"\npin = 22\nhz = 20\n'
        f'[[sensors]]\nname = "load"\nkind = "load_average"\nhz = 10\n'
    )
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "edge", "run", "--config", str(config), "--simulate"],
        stderr=subprocess.DEVNULL,
    )
    try:
        agent = psutil.Process(proc.pid)
        time.sleep(5)  # imports, first connection, page cache
        cpu_before = agent.cpu_times()
        started = time.monotonic()
        time.sleep(seconds)
        cpu_after = agent.cpu_times()
        elapsed = time.monotonic() - started
        rss_mb = agent.memory_info().rss / 1e6
    finally:
        proc.terminate()
        proc.wait(30)
    used = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    with SqliteBuffer(workdir / "agent.sqlite3", device=DEVICE) as buffer:
        sampled = buffer.next_seq
    return rss_mb, 100 * used / elapsed, sampled / (seconds + 5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=200_000)
    parser.add_argument("--agent-seconds", type=float, default=30.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fieldlink-bench-") as tmp:
        workdir = Path(tmp)
        small = bench_append(workdir, args.readings, 10)
        large = bench_append(workdir, args.readings, 100)
        print(f"buffer append  (10/append):  {small:12,.0f} readings/s   target >= 100,000")
        print(f"buffer append (100/append):  {large:12,.0f} readings/s   target >= 100,000")
        with mosquitto(workdir) as port:
            drain = bench_drain(workdir, port, args.readings)
            print(f"drain to Mosquitto (QoS1):   {drain:12,.0f} readings/s   target >= 20,000")
            rss, cpu, rate = bench_agent(workdir, port, args.agent_seconds)
        print(
            f"agent at {rate:5.1f} readings/s:    RSS {rss:6.1f} MB (target <= 60), "
            f"CPU {cpu:4.1f}% of one core (target <= 3)"
        )


if __name__ == "__main__":
    main()
