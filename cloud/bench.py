"""Benchmark: readings/s through Faust into InfluxDB, with batched input.

Pre-loads the telemetry topic with ReadingBatch records (``--batch`` readings each), starts
``--workers`` real worker processes, and measures the time until every record is committed
(consumer lag 0), plus the workers' own per-record processing latency (p50/p99). With
``--rate`` the workers start first and the records are sent at that pace, a fleet's devices
taking turns: the figure is then the latency from Kafka append to stored (p50/p99). It needs a
Kafka and an InfluxDB: settings come from ``FIELDLINK_CLOUD_*`` like the worker's (the topic
prefix, app id and bucket prefix are made unique per run).

    python -m cloud.bench --readings 300000 --batch 500 --workers 1
    python -m cloud.bench --readings 63000 --batch 7 --devices 50 --rate 300  # latency
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import click
from aiokafka import AIOKafkaProducer

from cloud.api import Reader
from cloud.cli import ensure_topics
from cloud.settings import CloudSettings
from fieldlink.messages import KafkaTopics, Reading, ReadingBatch, encode

_NS = 1_000_000_000


def _batches(readings: int, batch: int, devices: int) -> list[bytes]:
    start = (time.time_ns() // _NS - 3 * 3600) * _NS
    per_device = readings // devices
    out = []
    for d in range(devices):
        boot = uuid.uuid4().hex
        for first in range(0, per_device, batch):
            seqs = range(first, min(first + batch, per_device))
            items = tuple(
                Reading(device=f"bench-{d}", sensor=("temp", "hum", "lux")[s % 3],
                        value=float(s % 97), ts_ns=start + s * 20_000_000, seq=s)
                for s in seqs
            )  # fmt: skip
            out.append(
                encode(
                    ReadingBatch(device=f"bench-{d}", site="bench", boot_id=boot,
                                 seq_first=seqs[0], seq_last=seqs[-1], readings=items)
                )
            )  # fmt: skip
    return out


async def _produce(settings: CloudSettings, payloads: list[bytes], rate: float = 0.0) -> None:
    """Send the records, at ``rate`` records/s if given (else as fast as possible)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, acks="all",
        linger_ms=5 if rate else 20, max_request_size=4 * 1024 * 1024,
    )  # fmt: skip
    await producer.start()
    try:
        topic = KafkaTopics(settings.topic_prefix).telemetry
        futures = []
        started = time.monotonic()
        for i, payload in enumerate(payloads):
            if rate and i % max(1, int(rate / 100)) == 0:
                await asyncio.sleep(max(0.0, started + i / rate - time.monotonic()))
            key = payload[payload.index(b'"device":"') + 10 :].split(b'"', 1)[0]
            futures.append(await producer.send(topic, key=key, value=payload))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def _reporting(reader: Reader, workers: int) -> bool:
    try:
        return len(asyncio.run(reader.workers())) >= workers
    except Exception:  # noqa: BLE001 - not yet: no pipeline bucket, no report
        return False


def _interleaved(payloads: list[bytes], devices: int) -> list[bytes]:
    """Each device's records in order, the devices taking turns (as a fleet sends them)."""
    per_device = len(payloads) // devices
    return [
        payloads[d * per_device + i] for i in range(per_device) for d in range(devices)
    ] + payloads[devices * per_device :]


@click.command()
@click.option("--readings", default=300_000, show_default=True)
@click.option("--batch", default=500, show_default=True, help="Readings per Kafka record.")
@click.option("--devices", default=20, show_default=True)
@click.option("--workers", default=1, show_default=True)
@click.option(
    "--rate",
    default=0.0,
    help="Send the records at this many per second while the workers run (latency at a "
    "load) instead of loading the topic first (throughput).",
)
def main(readings: int, batch: int, devices: int, workers: int, rate: float) -> None:
    run = f"bench{uuid.uuid4().hex[:8]}"
    scratch = Path(tempfile.mkdtemp(prefix=f"{run}-"))
    base = CloudSettings.load()
    settings = CloudSettings.load(
        app_id=run, topic_prefix=run, bucket_prefix=f"{run}-", store="memory://",
        alerts={"rules": []},
    )  # fmt: skip
    env = {
        **os.environ,
        "FIELDLINK_CLOUD_APP_ID": run,
        "FIELDLINK_CLOUD_TOPIC_PREFIX": run,
        "FIELDLINK_CLOUD_BUCKET_PREFIX": f"{run}-",
        "FIELDLINK_CLOUD_STORE": "memory://",
        "FIELDLINK_CLOUD_DATA_DIR": str(scratch / "data"),
        "FIELDLINK_CLOUD_PARTITIONS": str(base.partitions),
        "FIELDLINK_CLOUD_ALERTS": '{"rules": []}',
    }
    asyncio.run(ensure_topics(settings))
    payloads = _batches(readings, batch, devices)
    total = sum(1 for _ in payloads)
    if not rate:
        click.echo(f"producing {readings} readings in {total} records of up to {batch}...")
        asyncio.run(_produce(settings, payloads))
    logs = [scratch / f"worker{i}.log" for i in range(workers)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "cloud", "worker", "--loglevel", "warning"],
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        for log in logs
    ]
    reader = Reader(settings)
    try:
        if rate:
            deadline = time.monotonic() + 120
            while not _reporting(reader, workers):  # joined, buckets made, reporting
                if time.monotonic() > deadline:
                    raise click.ClickException(f"the workers did not start; see {logs}")
                time.sleep(0.5)
            click.echo(f"sending {total} records of up to {batch} readings at {rate:,.0f}/s...")
            asyncio.run(_produce(settings, _interleaved(payloads, devices), rate))
        started = first = None
        while True:
            time.sleep(0.25)
            lag = sum(asyncio.run(reader.consumer_lag()).values())
            now = time.monotonic()
            if started is None:
                started = now
            if first is None and (rate or lag < total):
                first = now
            if lag == 0:
                break
            if any(p.poll() is not None for p in procs):
                raise click.ClickException(f"a worker exited; see {logs}")
        assert first is not None
        elapsed = max(now - first, 1e-9)
        time.sleep(6)  # let the workers report their metrics
        stats = asyncio.run(reader.workers())
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
    click.echo(f"workers: {workers}, records: {total}, readings: {readings}")
    if rate:
        click.echo(f"paced at {rate:,.0f} records/s; lag 0 {elapsed:.1f} s after the last send")
    else:
        click.echo(
            f"throughput: {readings / elapsed:,.0f} readings/s ({elapsed:.1f} s from first commit)"
        )
    for w in stats:
        click.echo(
            f"  {w['worker']}: records {w.get('records')} in {w.get('batches')} batches, "
            f"per-record latency "
            f"p50 {w.get('latency_p50_s', 0) * 1000:.1f} ms, "
            f"p99 {w.get('latency_p99_s', 0) * 1000:.1f} ms, "
            f"Kafka to stored p50 {w.get('kafka_to_stored_p50_s', 0) * 1000:.1f} ms, "
            f"p99 {w.get('kafka_to_stored_p99_s', 0) * 1000:.1f} ms, "
            f"write p50 {w.get('write_p50_s', 0) * 1000:.1f} ms, "
            f"{w.get('write_requests', 0)} InfluxDB writes of "
            f"{w.get('points_written', 0) / max(1, w.get('write_requests') or 0):,.0f} points"
        )


if __name__ == "__main__":
    main()
