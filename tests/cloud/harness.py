"""Running real Faust workers against the real Kafka and InfluxDB, and judging the result."""

from __future__ import annotations

import asyncio
import math
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from cloud.processing import window_start
from fieldlink.messages import KafkaTopics, Reading, ReadingBatch, encode
from lab.services import InfluxServer, KafkaServer, ManagedProcess

from .influx_helpers import query

NS = 1_000_000_000
BOOT = "cd" * 16


class Stack:
    """One test's names (topics, buckets, group) on the shared or a private server."""

    def __init__(self, kafka: KafkaServer, influxdb: InfluxServer, name: str, partitions: int = 4):
        self.kafka = kafka
        self.influxdb = influxdb
        self.name = name
        self.partitions = partitions
        self.topics = KafkaTopics(name)

    def env(self, app_id: str | None = None, bucket_prefix: str | None = None) -> dict[str, str]:
        creds = self.influxdb.credentials
        return {
            "FIELDLINK_CLOUD_APP_ID": app_id or self.name,
            "FIELDLINK_CLOUD_KAFKA_BOOTSTRAP": self.kafka.bootstrap_servers,
            "FIELDLINK_CLOUD_TOPIC_PREFIX": self.name,
            "FIELDLINK_CLOUD_PARTITIONS": str(self.partitions),
            "FIELDLINK_CLOUD_STORE": "memory://",
            "FIELDLINK_CLOUD_INFLUX_URL": self.influxdb.url,
            "FIELDLINK_CLOUD_INFLUX_TOKEN": creds.token,
            "FIELDLINK_CLOUD_INFLUX_ORG": creds.org,
            "FIELDLINK_CLOUD_BUCKET_PREFIX": f"{bucket_prefix or self.name}-",
            "FIELDLINK_CLOUD_GAP_TIMEOUT_S": "5",
            "FIELDLINK_CLOUD_SESSION_TIMEOUT_S": "6",
        }

    def worker(self, run_dir: Path, name: str = "worker", **env: str) -> ManagedProcess:
        run_dir.mkdir(parents=True, exist_ok=True)
        process = ManagedProcess(
            name,
            [sys.executable, "-m", "cloud", "worker", "--loglevel", "info"],
            run_dir=run_dir,
            ready=lambda: b"Ready" in process.log_path.read_bytes(),
            ready_timeout=90,
            env={**self.env(), "FIELDLINK_CLOUD_DATA_DIR": str(run_dir / "data"), **env},
            stop_timeout=30,
        )
        return process

    async def create_topics(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.kafka.bootstrap_servers)
        await admin.start()
        try:
            await admin.create_topics(
                [
                    NewTopic(t, num_partitions=self.partitions, replication_factor=1)
                    for t in self.topics.all()
                ]
            )
        finally:
            await admin.close()

    async def produce(self, batches: Iterable[ReadingBatch], topic: str | None = None) -> int:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.kafka.bootstrap_servers,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
        )
        await producer.start()
        sent = 0
        try:
            futures = []
            for batch in batches:
                futures.append(
                    await producer.send(
                        topic or self.topics.telemetry,
                        key=batch.device.encode(),
                        value=encode(batch),
                    )
                )
                sent += 1
            await asyncio.gather(*futures)
        finally:
            await producer.stop()
        return sent

    async def produce_raw(self, topic: str, key: str, value: bytes) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.kafka.bootstrap_servers, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(topic, key=key.encode(), value=value)
        finally:
            await producer.stop()

    async def read_all(self, topic: str) -> list[Any]:
        """Every record of a topic, partition by partition, outside any consumer group."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.kafka.bootstrap_servers)
        await consumer.start()
        try:
            partitions = [TopicPartition(topic, p) for p in range(self.partitions)]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            out: list[Any] = []
            while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
                for records in (await consumer.getmany(timeout_ms=2000)).values():
                    out.extend(records)
            return out
        finally:
            await consumer.stop()

    async def group_members(self, group: str) -> int:
        """Members of a consumer group in a stable state (0 while it rebalances)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.kafka.bootstrap_servers)
        await admin.start()
        try:
            (response,) = await admin.describe_consumer_groups([group])
        finally:
            await admin.close()
        (entry,) = response.groups
        error_code, _, state, _, _, members = entry[:6]
        return len(members) if error_code == 0 and state == "Stable" else 0

    def bucket(self, kind: str, prefix: str | None = None) -> str:
        return f"{prefix or self.name}-{kind}"

    def raw(self, prefix: str | None = None) -> list[tuple[str, str, int, float]]:
        found = query(
            self.influxdb,
            f'from(bucket: "{self.bucket("raw", prefix)}") |> range(start: 0) '
            '|> filter(fn: (r) => r._measurement == "reading" and r._field == "value") '
            "|> group()",
        )
        return sorted(
            (r["device"], r["sensor"], int(r["_time"].timestamp() * 1e9 + 0.5), r["_value"])
            for r in found
        )

    def count_raw(self, device: str | None = None) -> int:
        """Readings in the raw bucket (of one device)."""
        only = f'and r.device == "{device}"' if device else ""
        found = query(
            self.influxdb,
            f'from(bucket: "{self.bucket("raw")}") |> range(start: 0) '
            f'|> filter(fn: (r) => r._measurement == "reading" and r._field == "value" {only}) '
            "|> group() |> count()",
        )
        return sum(int(r["_value"]) for r in found)

    def aggregates(self, kind: str = "agg_1m", prefix: str | None = None) -> dict[Any, Any]:
        found = query(
            self.influxdb,
            f'from(bucket: "{self.bucket(kind, prefix)}") |> range(start: 0) '
            '|> filter(fn: (r) => r._measurement == "agg")',
        )
        out: dict[Any, dict[str, Any]] = {}
        for r in found:
            key = (r["device"], r["sensor"], int(r["_time"].timestamp()))
            out.setdefault(key, {})[r["_field"]] = r["_value"]
        return out

    def workers_with_records(self, prefix: str | None = None) -> set[str]:
        found = query(
            self.influxdb,
            f'from(bucket: "{self.bucket("pipeline", prefix)}") |> range(start: 0) '
            '|> filter(fn: (r) => r._measurement == "worker" and r._field == "records") '
            "|> last()",
        )
        return {r["worker"] for r in found if r["_value"] > 0}


def expected_aggregates(readings: Iterable[Reading], width_s: int = 60) -> dict[Any, Any]:
    groups: dict[Any, list[Reading]] = {}
    for r in readings:
        start = window_start(r.ts_ns, width_s) // NS
        groups.setdefault((r.device, r.sensor, start), []).append(r)
    return {
        key: {
            "count": len(members),
            "min": min(m.value for m in members if m.value is not None),
            "max": max(m.value for m in members if m.value is not None),
            "mean": statistics.fmean(m.value for m in members if m.value is not None),
            "last": max(members, key=lambda m: (m.ts_ns, m.seq)).value,
        }
        for key, members in groups.items()
    }


def same_aggregates(got: dict[Any, Any], want: dict[Any, Any]) -> bool:
    if got.keys() != want.keys():
        return False
    for key, fields in want.items():
        for name, value in fields.items():
            if name == "mean":
                if not math.isclose(got[key][name], value, abs_tol=1e-9):
                    return False
            elif got[key].get(name) != value:
                return False
    return True


def fleet(devices: int, per_device: int, *, start_ns: int, step_ns: int = NS) -> list[Reading]:
    return [
        Reading(
            device=f"pi-{d}",
            sensor="temp" if seq % 2 else "hum",
            value=float((seq * 7 + d) % 50),
            ts_ns=start_ns + seq * step_ns,
            seq=seq,
        )
        for d in range(devices)
        for seq in range(per_device)
    ]


def batches_of(readings: list[Reading], size: int, site: str = "lab") -> list[ReadingBatch]:
    by_device: dict[str, list[Reading]] = {}
    for r in readings:
        by_device.setdefault(r.device, []).append(r)
    out = []
    for device, items in by_device.items():
        items.sort(key=lambda r: r.seq)
        for i in range(0, len(items), size):
            chunk = items[i : i + size]
            out.append(
                ReadingBatch(
                    device=device,
                    site=site,
                    boot_id=BOOT,
                    seq_first=chunk[0].seq,
                    seq_last=chunk[-1].seq,
                    readings=tuple(chunk),
                )
            )
    return out


def wait_until(
    predicate: Callable[[], bool],
    timeout: float,
    what: str,
    explain: Callable[[], str] = lambda: "",
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}. {explain()}")


def missing_report(stack: Stack, readings: list[Reading], prefix: str | None = None) -> str:
    """Which readings are not in the raw bucket, per device, for a failure message."""
    have = set(stack.raw(prefix))
    gone: dict[str, list[int]] = {}
    for r in readings:
        if (r.device, r.sensor, r.ts_ns, r.value) not in have:
            gone.setdefault(r.device, []).append(r.seq)
    ranges = {d: (len(s), s[:3], s[-3:]) for d, s in gone.items()}
    return f"raw has {len(have)} of {len(readings)}; missing per device: {ranges}"


def recent_start(minutes_ago: int = 90) -> int:
    """A window-aligned event time inside every bucket's retention and the lateness."""
    now = time.time_ns()
    return window_start(now - minutes_ago * 60 * NS, 3600)
