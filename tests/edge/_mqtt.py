"""Test helpers: a persistent QoS1 subscriber that records every reading it receives, and
a simulated agent run as a real subprocess."""

from __future__ import annotations

import collections
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from fieldlink.messages import Reading, ReadingBatch, decode
from lab.services import ManagedProcess, MosquittoServer

__all__ = ["Collector", "agent_config", "agent_process", "wait_for"]


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(0.1)


class Collector:
    """Subscribes (QoS1, persistent session) to a topic filter and records readings."""

    def __init__(
        self,
        server: MosquittoServer,
        topic: str,
        client_id: str,
        *,
        raw: bool = False,
        ca_file: Path | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self._raw = raw
        self.payloads: list[bytes] = []
        self.received: list[tuple[str, int]] = []
        self.readings: list[Reading] = []
        self.batches = 0
        self._lock = threading.Lock()
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
        )
        client.reconnect_delay_set(0.1, 1.0)
        if ca_file is not None:
            client.tls_set(ca_certs=str(ca_file))
        if credentials is not None:
            client.username_pw_set(*credentials)
        client.on_connect = lambda c, u, f, r, p: c.subscribe(topic, qos=1)
        client.on_message = self._on_message
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = 3600
        client.connect(server.host, server.port, clean_start=False, properties=properties)
        client.loop_start()
        self._client = client

    @classmethod
    def raw(cls, server: MosquittoServer, topic: str, client_id: str) -> Collector:
        """A collector that keeps payloads as bytes (for status messages)."""
        return cls(server, topic, client_id, raw=True)

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        if self._raw:
            with self._lock:
                self.payloads.append(bytes(msg.payload))
            return
        batch = decode(msg.payload, ReadingBatch)
        with self._lock:
            self.batches += 1
            self.received.extend((batch.boot_id, r.seq) for r in batch.readings)
            self.readings.extend(batch.readings)

    def seqs(self) -> set[int]:
        with self._lock:
            return {seq for _, seq in self.received}

    def duplicates(self) -> int:
        with self._lock:
            counts = collections.Counter(self.received)
        return sum(n - 1 for n in counts.values())

    def boots_per_seq(self) -> dict[int, set[str]]:
        with self._lock:
            found: dict[int, set[str]] = collections.defaultdict(set)
            for boot, seq in self.received:
                found[seq].add(boot)
        return found

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def agent_config(
    tmp_path: Path, server: MosquittoServer, device: str, *, hz: float = 50.0, extra: str = ""
) -> Path:
    config = tmp_path / f"{device}.toml"
    config.write_text(
        f'device = "{device}"\nsite = "lab"\nclock = "trusted"\nshutdown_drain_s = 10\n'
        f"{extra}"
        f"[mqtt]\nport = {server.port}\nreconnect_min_s = 0.2\nreconnect_max_s = 2.0\n"
        f'[buffer]\npath = "{tmp_path / (device + ".sqlite3")}"\ndurability_ms = 50\n'
        f"[publish]\nstatus_interval_s = 2\nlinger_ms = 50\n"
        f'[[sensors]]\nname = "temp"\nkind = "analog"\nchannel = 0\nhz = {hz}\nunit = "degC"\n'
        f"calibration = {{ scale = 100.0, offset = -50.0 }}\n"
        f'[[sensors]]\nname = "door"\nkind = "digital"\npin = 22\nhz = 1\n'
        f'waveform = {{ shape = "events", events_per_min = 30, event_duration_s = 1 }}\n'
    )
    return config


def agent_process(config: Path, run_dir: Path) -> ManagedProcess:
    """The agent as a real process (``python -m edge run --simulate``), supervised."""
    return ManagedProcess(
        "edge-agent",
        [sys.executable, "-m", "edge", "run", "--config", config, "--simulate"],
        run_dir=run_dir,
        ready=lambda: True,
        stop_timeout=30,
    )
