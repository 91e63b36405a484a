"""A simulated fleet's recent past, produced to the real Kafka for a real worker.

Readings of ``temp`` and ``hum`` every 2 s over the last ``minutes`` for each device, a
``DeviceStatus`` every 20 s (one device partitioned for a while: its buffer grows, then
drains), one temperature episode that opens and closes, and an overheat of ``HOT_DEVICE``
still going on at the end, so an alert is open. One undecodable record goes to the dead
letters. Shared by the Grafana query tests and the browser tests.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer

from fieldlink.messages import DeviceStatus, Reading, ReadingBatch, encode

from ..harness import BOOT, Stack, batches_of, wait_until
from ..influx_helpers import query

NS = 1_000_000_000
RULES = {
    "rules": [
        {"kind": "threshold", "name": "overheat", "sensor": "temp", "above": 60, "clear": 40,
         "min_duration_s": 4, "severity": "critical"},
        {"kind": "deadman", "name": "deadman", "silent_s": 600},
    ]
}  # fmt: skip
HOT_DEVICE = "pi-1"
PARTITIONED = "pi-2"
STEP_S = 2


@dataclass(frozen=True)
class SimRun:
    devices: list[str]
    readings: list[Reading]
    statuses: list[DeviceStatus]
    start_ns: int
    end_ns: int


def _temp(device: int, seq: int, samples: int) -> float:
    if device == 1 and seq >= samples - 30:
        return 85.0 + seq % 3  # the overheat still going on at the end
    if device == 1 and samples // 3 <= seq < samples // 3 + 10:
        return 70.0  # an episode that opens and closes
    return round(20.0 + device + 3.0 * ((seq % 20) / 20.0), 3)


def simulate(devices: int, minutes: int, *, now_ns: int | None = None) -> SimRun:
    end_ns = now_ns or time.time_ns()
    samples = minutes * 60 // STEP_S
    start_ns = end_ns - samples * STEP_S * NS
    names = [f"pi-{d}" for d in range(devices)]
    readings = []
    for d, name in enumerate(names):
        for i in range(samples):
            ts = start_ns + i * STEP_S * NS
            readings.append(Reading(device=name, sensor="temp", value=_temp(d, i, samples),
                                    unit="degC", ts_ns=ts, seq=2 * i))  # fmt: skip
            readings.append(Reading(device=name, sensor="hum", value=40.0 + (i % 7),
                                    unit="%", ts_ns=ts, seq=2 * i + 1))  # fmt: skip
    statuses = []
    for name in names:
        for k, ts in enumerate(range(start_ns, end_ns, 20 * NS)):
            depth = 0
            if name == PARTITIONED:
                # Partitioned for the middle third: the buffer grows, then drains.
                third = max(1, (end_ns - start_ns) // 3)
                if start_ns + third <= ts < start_ns + 2 * third:
                    depth = (ts - start_ns - third) // (STEP_S * NS) * 2
                elif start_ns + 2 * third <= ts < start_ns + 2 * third + 60 * NS:
                    depth = 40 - k % 5
            statuses.append(
                DeviceStatus(
                    device=name,
                    site="lab",
                    boot_id=BOOT,
                    ts_ns=ts,
                    online=True,
                    buffer_depth=depth,
                    oldest_buffered_age_s=float(depth) if depth else None,
                )
            )
    return SimRun(names, readings, statuses, start_ns, end_ns)


async def produce(stack: Stack, run: SimRun, batch_size: int = 15) -> None:
    await stack.produce(batches_of(run.readings, batch_size))
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka.bootstrap_servers, acks="all")
    await producer.start()
    try:
        sent = [
            await producer.send(stack.topics.status, key=s.device.encode(), value=encode(s))
            for s in run.statuses
        ]
        sent.append(await producer.send(stack.topics.telemetry, key=b"pi-bad", value=b"\x00"))
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def live_batch(device: str, sensor: str, value: float, seq: int) -> ReadingBatch:
    reading = Reading(device=device, sensor=sensor, value=value, ts_ns=time.time_ns(), seq=seq)
    return ReadingBatch(device=device, site="lab", boot_id=BOOT, seq_first=seq, seq_last=seq,
                        readings=(reading,))  # fmt: skip


def raw_count(stack: Stack) -> int:
    found = query(
        stack.influxdb,
        f'from(bucket: "{stack.bucket("raw")}") |> range(start: -1d) '
        '|> filter(fn: (r) => r._measurement == "reading" and r._field == "value") '
        "|> group() |> count()",
    )
    return int(found[0]["_value"]) if found else 0


def open_alerts(stack: Stack, device: str) -> int:
    found = query(
        stack.influxdb,
        f'from(bucket: "{stack.bucket("events")}") |> range(start: -1d) '
        f'|> filter(fn: (r) => r._measurement == "alert" and r.device == "{device}" '
        'and r.state == "open" and r._field == "alert_id") |> group() |> count()',
    )
    return int(found[0]["_value"]) if found else 0


def reports_with_records(stack: Stack) -> int:
    found = query(
        stack.influxdb,
        f'from(bucket: "{stack.bucket("pipeline")}") |> range(start: -1d) '
        '|> filter(fn: (r) => r._measurement == "worker" and r._field == "records") '
        "|> filter(fn: (r) => r._value > 0) |> group() |> count()",
    )
    return int(found[0]["_value"]) if found else 0


def wait_stored(stack: Stack, run: SimRun, timeout: float = 180, *, more: int = 0) -> None:
    """Every reading (and ``more`` produced beside the run), the open overheat and a few
    worker reports are in InfluxDB."""
    want = len(run.readings) + more
    wait_until(
        lambda: raw_count(stack) == want,
        timeout,
        "every simulated reading in the raw bucket",
        lambda: f"raw has {raw_count(stack)} of {want}",
    )
    wait_until(lambda: open_alerts(stack, HOT_DEVICE) >= 1, 60, "the overheat alert")
    wait_until(lambda: reports_with_records(stack) >= 3, 60, "three worker reports")


def produce_sync(stack: Stack, run: SimRun) -> None:
    asyncio.run(produce(stack, run))


def refresh_devices(stack: Stack, run: SimRun) -> None:
    """One more reading per device, now, and wait for it: "online" panels look at the last
    two minutes of processing time, however long the run took to be stored."""
    seq = 2 * (len(run.readings) // (2 * len(run.devices)))
    batches = [live_batch(device, "hum", 41.0, seq) for device in run.devices]
    asyncio.run(stack.produce(batches))
    want = len(run.readings) + len(run.devices)
    wait_until(lambda: raw_count(stack) == want, 120, "the refreshing readings stored")
