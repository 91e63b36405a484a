"""Benchmark: bridge throughput beside the raw Mosquitto QoS1 publish -> subscribe rate.

    python -m broker.bench [--devices 20] [--batches 1000] [--batch-size 10] [--bridges 1,2]

Starts a private hardened Mosquitto and a private Kafka (``fieldlink lab install`` provides
them), then streams the same pre-encoded ReadingBatch payloads twice from device
credentials:

1. raw: a QoS1 subscriber in its own process (paho, the bridge credential) receives them;
2. bridge: ``fieldlink bridge run`` in its own process forwards them to Kafka; done when its
   ``fieldlink_bridge_messages_total`` counter (Kafka-acknowledged) reaches the total.

Each rate is messages (and readings) over the time from the first publish to the last
delivery. Prints both and their ratio (target: bridge >= 70 % of raw). Not a test.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psutil
from paho.mqtt.enums import CallbackAPIVersion

from broker.mosquitto import BrokerConfig, Credential, write_acl_file, write_password_file
from fieldlink.messages import Reading, ReadingBatch, encode, mqtt_topic
from lab.services import KafkaServer, ManagedProcess, MosquittoServer, free_port, port_open
from lab.settings import LabSettings

BRIDGE = Credential("fieldlink-bridge", "bench-bridge")
SITE = "bench"


@dataclass(frozen=True)
class Result:
    messages: int
    readings: int
    seconds: float
    cpu_s: float
    """CPU time the consumer side (subscriber or bridges) spent: robust to a busy machine."""

    @property
    def messages_per_s(self) -> float:
        return self.messages / self.seconds

    @property
    def readings_per_s(self) -> float:
        return self.readings / self.seconds


def _payloads(device: str, batches: int, size: int) -> list[bytes]:
    out = []
    for b in range(batches):
        readings = tuple(
            Reading(device=device, sensor="temp", value=21.5, unit="degC", ts_ns=10**18 + s, seq=s)
            for s in range(b * size, (b + 1) * size)
        )
        out.append(
            encode(
                ReadingBatch(
                    device=device,
                    site=SITE,
                    boot_id="f" * 32,
                    seq_first=readings[0].seq,
                    seq_last=readings[-1].seq,
                    readings=readings,
                )
            )
        )
    return out


def _client(credential: Credential, client_id: str) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.username_pw_set(credential.username, credential.password)
    client.max_inflight_messages_set(200)
    return client


def _publish_all(host: str, port: int, streams: dict[str, list[bytes]], tag: str) -> float:
    """Publish every stream from its device's own connection; return the start time."""
    clients = {}
    for device in streams:
        client = _client(Credential(device, f"pw-{device}"), f"{tag}-{device}")
        client.connect(host, port)
        client.loop_start()
        clients[device] = client
    time.sleep(0.5)

    def publish(device: str) -> None:
        topic = mqtt_topic(SITE, device, "telemetry")
        client = clients[device]
        for payload in streams[device]:
            client.publish(topic, payload, qos=1)

    threads = [threading.Thread(target=publish, args=(d,)) for d in streams]
    started = time.time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return started


def _raw_subscriber(host: str, port: int, expected: int, ready: Any, out: Any) -> None:
    # ready/out: a multiprocessing Event and Queue (their types are not importable).
    done = threading.Event()
    count = 0

    def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        nonlocal count
        count += 1
        if count >= expected:
            done.set()

    client = _client(BRIDGE, "bench-raw-sub")
    client.on_message = on_message
    cpu_at_ready = 0.0

    def on_subscribe(*args: object) -> None:
        nonlocal cpu_at_ready
        cpu_at_ready = time.process_time()  # start-up (imports, connect) is not the work
        ready.set()

    client.on_subscribe = on_subscribe
    client.connect(host, port)
    client.loop_start()
    client.subscribe("fieldlink/+/+/telemetry", qos=1)
    done.wait(600)
    out.put((count, time.time(), time.process_time() - cpu_at_ready))
    client.disconnect()
    client.loop_stop()


def _bridge_count(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith('fieldlink_bridge_messages_total{channel="telemetry"}'):
                return float(line.split()[-1])
    return 0.0


def _run_bridges(
    run: Path,
    mosquitto: MosquittoServer,
    kafka: KafkaServer,
    streams: dict[str, list[bytes]],
    instances: int,
) -> tuple[float, float]:
    """Start ``instances`` bridges in one share group, stream, wait for Kafka's acks;
    return the seconds from the first publish to the last acknowledgement and the CPU
    seconds the bridges spent meanwhile."""
    total = sum(len(s) for s in streams.values())
    processes, ports = [], []
    for i in range(instances):
        port = free_port()
        conf = run / f"bridge-{i}.toml"
        run.mkdir(parents=True, exist_ok=True)
        conf.write_text(
            f'mqtt_host = "{mosquitto.host}"\nmqtt_port = {mosquitto.port}\n'
            f'mqtt_username = "{BRIDGE.username}"\nmqtt_password = "{BRIDGE.password}"\n'
            f'mqtt_client_id = "bench-{run.name}-{i}"\nshare_group = "bench-{run.name}"\n'
            f'kafka_bootstrap = "{kafka.bootstrap_servers}"\ntopic_prefix = "bench-{run.name}"\n'
            f"metrics_port = {port}\ndownstream = false\n"
        )
        processes.append(
            ManagedProcess(
                f"bridge-{i}",
                [Path(sys.executable).parent / "fieldlink", "bridge", "run", "--config", conf],
                run_dir=run,
                ready=lambda port=port: port_open("127.0.0.1", port),  # type: ignore[misc]
            )
        )
        ports.append(port)
    try:
        for process in processes:
            process.start()
        procs = [psutil.Process(process.pid) for process in processes]
        cpu_before = sum(_cpu(proc) for proc in procs)
        started = _publish_all(mosquitto.host, mosquitto.port, streams, run.name)
        while sum(_bridge_count(port) for port in ports) < total:
            time.sleep(0.01)
        finished = time.time()
        cpu_s = sum(_cpu(proc) for proc in procs) - cpu_before
    finally:
        for process in processes:
            process.stop()
        for i in range(instances):  # drop the persistent sessions: no queuing for the next run
            client = _client(BRIDGE, f"bench-{run.name}-{i}")
            client.connect(mosquitto.host, mosquitto.port, clean_start=True)
            client.disconnect()
    return finished - started, cpu_s


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=20)
    parser.add_argument("--batches", type=int, default=1000, help="messages per device")
    parser.add_argument("--batch-size", type=int, default=10, help="readings per message")
    parser.add_argument(
        "--bridges",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[1, 2],
        help="bridge instance counts to measure, comma-separated (one share group)",
    )
    args = parser.parse_args(argv)
    devices = [f"bench-{i:03d}" for i in range(args.devices)]
    streams = {d: _payloads(d, args.batches, args.batch_size) for d in devices}
    total = args.devices * args.batches
    readings = total * args.batch_size
    size = sum(len(p) for s in streams.values() for p in s) / total
    print(
        f"{args.devices} devices x {args.batches} messages x {args.batch_size} readings = "
        f"{total} messages, {readings} readings, {size:.0f} B/message"
    )
    with tempfile.TemporaryDirectory(prefix="fieldlink-bench-") as tmp:
        run = Path(tmp)
        passwd = write_password_file(run / "passwd", [BRIDGE, *((d, f"pw-{d}") for d in devices)])
        acl = write_acl_file(run / "acl", bridge_users=[BRIDGE.username])
        config = BrokerConfig(password_file=passwd, acl_file=acl).render_options()
        with (
            MosquittoServer(run / "mosquitto", config=config) as mosquitto,
            KafkaServer(run / "kafka", home=LabSettings.load().kafka_home) as kafka,
        ):
            # 1. raw Mosquitto QoS1 publish -> subscribe
            ctx = mp.get_context("spawn")
            ready, out = ctx.Event(), ctx.Queue()
            sub = ctx.Process(
                target=_raw_subscriber, args=(mosquitto.host, mosquitto.port, total, ready, out)
            )
            sub.start()
            ready.wait(30)
            started = _publish_all(mosquitto.host, mosquitto.port, streams, "raw")
            count, finished, cpu_s = out.get(timeout=600)
            sub.join(10)
            raw = Result(count, count * args.batch_size, finished - started, cpu_s)

            # 2. the bridge, MQTT -> Kafka, Kafka-acknowledged; 1..N instances sharing load
            bridged = {
                n: Result(
                    total, readings, *_run_bridges(run / f"x{n}", mosquitto, kafka, streams, n)
                )
                for n in args.bridges
            }

    print(
        f"{'':26}{'messages/s':>12}{'readings/s':>14}{'seconds':>10}{'of raw':>9}{'CPU us/msg':>12}"
    )
    rows = [("raw Mosquitto QoS1", raw)]
    rows += [(f"bridge x{n} MQTT->Kafka", result) for n, result in bridged.items()]
    for name, result in rows:
        print(
            f"{name:26}{result.messages_per_s:12,.0f}{result.readings_per_s:14,.0f}"
            f"{result.seconds:10.2f}{result.messages_per_s / raw.messages_per_s:9.0%}"
            f"{result.cpu_s / result.messages * 1e6:12.0f}"
        )
    print(
        "target: bridge >= 70% of raw. CPU us/msg: consumer-side CPU per message (the raw\n"
        "subscriber's process, or all bridge processes), which a busy machine does not skew."
    )


if __name__ == "__main__":
    main()
