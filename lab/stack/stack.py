"""The whole fieldlink stack on one machine, with a simulated fleet.

Mosquitto (per-device credentials and ACL from the registry), Kafka, InfluxDB, the bridge,
N Faust workers, the API and N simulated edge agents, each its own process with its own
buffer file and identity. Each agent runs in its own network namespace joined by a veth
pair when namespaces are available (root, ``ip``, ``nft``, ``tc``), else it reaches the
broker through its own fault proxy on loopback; :attr:`Stack.mode` says which.

Every part is started through the tiers' public CLIs (``fieldlink bridge run``, ``fieldlink
cloud worker``/``api``, ``fieldlink edge run --simulate``) and supervised by
:class:`~lab.services.ManagedProcess`; :meth:`Stack.stop` leaves no process, namespace or
veth behind, and the fault methods (partition, degrade, restarts, kills, buffer cap) are
what a scenario timeline calls.

>>> with Stack(StackSpec(devices=3)) as stack:          # doctest: +SKIP
...     print(stack.api_url)
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import secrets
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from firmware.edgeconfig import toml_dumps
from lab.network import DeviceNamespace, Faults, PartitionMode, namespaces_available
from lab.network.netns import _pick_subnet
from lab.services import (
    InfluxServer,
    KafkaServer,
    ManagedProcess,
    MosquittoServer,
    free_port,
    port_open,
)
from lab.settings import LabSettings

from .agents import AgentConfig, agent_process, fieldlink_argv
from .broker import BrokerSetup, provision_broker
from .profiles import sensors_for
from .proxies import ProxyLoop
from .spec import StackSpec

__all__ = ["Stack"]

logger = logging.getLogger(__name__)

_WEEK_MS = 7 * 24 * 3600 * 1000


def _quiet(_: str) -> None:
    return None


class Stack:
    """Start with :meth:`start` (or ``with``), stop with :meth:`stop`.

    ``on_step`` is told about each long step ("starting Kafka") so a CLI can show progress.
    """

    def __init__(
        self,
        spec: StackSpec,
        *,
        lab: LabSettings | None = None,
        on_step: Callable[[str], None] = _quiet,
    ):
        self.spec = spec
        self.lab = lab or LabSettings.load()
        self.on_step = on_step
        self.run_dir = spec.run_dir or Path(tempfile.mkdtemp(prefix="fieldlink-lab-"))
        wanted = spec.use_namespaces
        self.use_namespaces = namespaces_available() if wanted is None else wanted
        self.token = secrets.token_hex(2)
        self.topic_prefix = "fieldlink"
        self.devices = spec.device_ids()
        self.namespaces: dict[str, DeviceNamespace] = {}
        self.proxies: ProxyLoop | None = None
        self.mosquitto: MosquittoServer | None = None
        self.kafka: KafkaServer | None = None
        self.influx: InfluxServer | None = None
        self.bridge: ManagedProcess | None = None
        self.workers: list[ManagedProcess] = []
        self.api: ManagedProcess | None = None
        self.agents: dict[str, ManagedProcess] = {}
        self.agent_configs: dict[str, AgentConfig] = {}
        self.broker_setup: BrokerSetup | None = None
        self.api_port = spec.api_port or free_port()
        self._rates: set[str] = set()

    # -- facts -------------------------------------------------------------------------

    @property
    def mode(self) -> str:
        """How network faults are injected: "namespaces" or "proxy"."""
        return "namespaces" if self.use_namespaces else "proxy"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def cloud_config_path(self) -> Path:
        return self.run_dir / "cloud" / "cloud.toml"

    def cloud_settings(self) -> dict[str, Any]:
        """The cloud tier's settings as written to its TOML file."""
        assert self.kafka is not None
        assert self.influx is not None
        creds = self.influx.credentials
        rules: list[dict[str, Any]] = [
            {
                "kind": "threshold",
                "name": "overheat",
                "sensor": "temp",
                "above": self.spec.overheat_above,
                "clear": self.spec.overheat_clear,
                "severity": "critical",
            },
            {"kind": "deadman", "name": "deadman", "silent_s": self.spec.deadman_silent_s},
        ]
        return {
            "app_id": "fieldlink-lab",
            "kafka_bootstrap": self.kafka.bootstrap_servers,
            "topic_prefix": self.topic_prefix,
            "partitions": self.spec.partitions,
            "store": "memory://",
            "influx_url": self.influx.url,
            "influx_token": creds.token,
            "influx_org": creds.org,
            "api_host": "127.0.0.1",
            "api_port": self.api_port,
            **({"reports_dir": str(self.spec.reports_dir)} if self.spec.reports_dir else {}),
            **self.spec.extra_cloud,
            "alerts": {"rules": rules},
        }

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> Self:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        spec = self.spec
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.on_step(f"run directory {self.run_dir}")
        if self.use_namespaces:
            self.on_step(f"creating {len(self.devices)} network namespaces")
            subnet: ipaddress.IPv4Network = _pick_subnet()
            for index, device in enumerate(self.devices):
                self.namespaces[device] = DeviceNamespace.create(
                    index, subnet=subnet, token=self.token
                )
        self.on_step("registering devices and writing broker credentials")
        setup = provision_broker(self.run_dir / "identity", devices=self.devices, site=spec.site)
        self.broker_setup = setup
        port = free_port()
        hosts = [ns.host_ip for ns in self.namespaces.values()]
        self.on_step("starting Mosquitto")
        self.mosquitto = MosquittoServer(
            self.run_dir / "mosquitto", port=port, config=setup.with_listeners(port, hosts)
        ).start()
        self.on_step("starting Kafka")
        self.kafka = KafkaServer(self.run_dir / "kafka", home=self.lab.kafka_home).start()
        self.on_step("starting InfluxDB")
        self.influx = InfluxServer(self.run_dir / "influxdb", binary=self.lab.influxd_path).start()
        self.on_step("starting the bridge")
        self.bridge = self._bridge_process().start()
        self.cloud_config_path.parent.mkdir(parents=True, exist_ok=True)
        self.cloud_config_path.write_text(toml_dumps(self.cloud_settings()))
        self.cloud_config_path.chmod(0o600)
        for index in range(spec.workers):
            self.on_step(f"starting Faust worker {index + 1}/{spec.workers}")
            worker = self._worker_process(index)
            self.workers.append(worker)
            worker.start()
        self.on_step("starting the API")
        self.api = self._api_process().start()
        self._start_agents()

    def _bridge_process(self) -> ManagedProcess:
        assert self.mosquitto is not None
        assert self.kafka is not None
        assert self.broker_setup is not None
        metrics_port = free_port()
        topic = {"partitions": self.spec.partitions, "retention_ms": _WEEK_MS}
        config = {
            "mqtt_host": self.mosquitto.host,
            "mqtt_port": self.mosquitto.port,
            "mqtt_username": self.broker_setup.bridge.username,
            "mqtt_password": self.broker_setup.bridge.password,
            "share_group": "",
            "kafka_bootstrap": self.kafka.bootstrap_servers,
            "topic_prefix": self.topic_prefix,
            "metrics_port": metrics_port,
            "telemetry_topic": topic,
            "status_topic": topic,
            "alerts_topic": topic,
            "commands_topic": topic,
        }
        directory = self.run_dir / "bridge"
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "bridge.toml"
        path.write_text(toml_dumps(config))
        path.chmod(0o600)
        return ManagedProcess(
            "bridge",
            [*fieldlink_argv(), "bridge", "run", "--config", str(path)],
            run_dir=directory,
            ready=lambda: port_open("127.0.0.1", metrics_port),
            ready_timeout=60,
        )

    def _worker_process(self, index: int) -> ManagedProcess:
        directory = self.run_dir / "cloud" / f"worker-{index}"
        return ManagedProcess(
            f"worker-{index}",
            [*fieldlink_argv(), "cloud", "worker", "--config", str(self.cloud_config_path)],
            run_dir=directory,
            ready=lambda: True,
            env={"FIELDLINK_CLOUD_DATA_DIR": str(directory / "data")},
            stop_timeout=20,
        )

    def _api_process(self) -> ManagedProcess:
        return ManagedProcess(
            "api",
            [*fieldlink_argv(), "cloud", "api", "--config", str(self.cloud_config_path)],
            run_dir=self.run_dir / "cloud" / "api",
            ready=lambda: port_open("127.0.0.1", self.api_port),
            ready_timeout=60,
        )

    def _start_agents(self) -> None:
        spec = self.spec
        assert self.mosquitto is not None
        assert self.broker_setup is not None
        for index, device in enumerate(self.devices):
            host, port = self.mosquitto.host, self.mosquitto.port
            namespace = self.namespaces.get(device)
            if namespace is not None:
                host = namespace.host_ip
            if device in spec.proxied or namespace is None:
                if self.proxies is None:
                    self.proxies = ProxyLoop()
                host, port = self.proxies.add(
                    device,
                    target=(self.mosquitto.host, self.mosquitto.port),
                    listen_host=host,
                    seed=spec.seed * 1000 + index,
                )
            config = AgentConfig(
                device=device,
                site=spec.site,
                directory=self.run_dir / "agents" / device,
                mqtt_host=host,
                mqtt_port=port,
                password=self.broker_setup.devices[device].password,
                sensors=sensors_for(
                    spec.profile,
                    hz=spec.sample_hz,
                    seed=spec.seed * 1000 + index,
                    events=[e for e in spec.events if e.device == device],
                ),
                buffer_cap_bytes=spec.buffer_cap_bytes,
                seed=spec.seed * 1000 + index,
                unsynced_s=spec.unsynced_s.get(device, 0.0),
                status_interval_s=spec.status_interval_s,
                record=spec.record_generated,
                drain_max_rate=spec.drain_max_rate,
            )
            self.agent_configs[device] = config
            wrap = namespace.command([]) if namespace is not None else None
            self.agents[device] = agent_process(config, wrap=wrap)
        self.on_step(f"starting {len(self.devices)} simulated agents")
        for process in self.agents.values():
            process.start()

    def stop(self) -> None:
        """Stop everything, in order, even what failed to start; never raises."""
        self.on_step("stopping")
        parts: list[Any] = [
            *self.agents.values(),
            self.api,
            *self.workers,
            self.bridge,
            self.mosquitto,
            self.kafka,
            self.influx,
        ]
        for part in parts:
            if part is None:
                continue
            try:
                part.stop()
            except Exception:
                logger.exception("stopping %s failed", part)
        if self.proxies is not None:
            with contextlib.suppress(Exception):
                self.proxies.close()
            self.proxies = None
        for namespace in self.namespaces.values():
            namespace.teardown()
        self.namespaces.clear()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- faults ------------------------------------------------------------------------

    def partition(self, devices: Iterable[str], mode: str) -> None:
        """Cut ``devices`` off: "link_down", "drop" (namespaces) or through their proxy."""
        for device in devices:
            namespace = self.namespaces.get(device)
            if namespace is not None and mode != "proxy":
                namespace.partition(PartitionMode(mode))
            else:
                proxy = self._proxy(device)
                hole = Faults(refuse=True) if mode == "link_down" else Faults(blackhole=True)
                proxy.set_faults(device, hole)

    def heal(self, devices: Iterable[str]) -> None:
        for device in devices:
            namespace = self.namespaces.get(device)
            if namespace is not None:
                namespace.heal()
            if self.proxies is not None and device in self.proxies:
                self.proxies.set_faults(device, Faults())

    def degrade(
        self, devices: Iterable[str], faults: Faults | None = None, rate: str | None = None
    ) -> None:
        """Latency, jitter and loss through the proxy; a bandwidth cap with tc tbf."""
        for device in devices:
            if faults is not None:
                self._proxy(device).set_faults(device, faults)
            if rate is not None:
                namespace = self.namespaces.get(device)
                if namespace is None:
                    raise ValueError(
                        f"a rate limit needs namespaces (tc tbf); {device} has none in this mode"
                    )
                namespace.limit_rate(rate)
                self._rates.add(device)

    def clear_degrade(self, devices: Iterable[str]) -> None:
        for device in devices:
            if self.proxies is not None and device in self.proxies:
                self.proxies.set_faults(device, Faults())
            if device in self._rates:
                self.namespaces[device].clear_rate()
                self._rates.discard(device)

    def _proxy(self, device: str) -> ProxyLoop:
        if self.proxies is None or device not in self.proxies:
            raise ValueError(f"{device} does not reach the broker through a fault proxy")
        return self.proxies

    def set_buffer_cap(self, device: str, cap_bytes: int | None) -> None:
        """Shrink a running agent's buffer cap (disk full); None restores its setting."""
        path = self.agent_configs[device].cap_override_path
        if cap_bytes is None:
            path.unlink(missing_ok=True)
            return
        partial = path.with_suffix(".tmp")
        partial.write_text(f"{cap_bytes}\n")
        os.replace(partial, path)

    def kill_agent(self, device: str) -> None:
        self.agents[device].kill()

    def start_agent(self, device: str) -> None:
        self.agents[device].start()

    def stop_agents(self) -> None:
        for process in self.agents.values():
            process.stop()
