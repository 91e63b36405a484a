"""A single-node Apache Kafka 3.9 in KRaft mode, run from the jars ``lab install`` fetched."""

from __future__ import annotations

import base64
import shutil
import subprocess
import uuid
from collections.abc import Mapping
from pathlib import Path

from ._process import ManagedProcess, ServiceError, free_port, port_open
from ._server import Server

__all__ = ["KafkaServer"]

_STARTED = "Kafka Server started"

_LOG4J = """\
log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaRaftServer=INFO
log4j.logger.kafka.server.BrokerServer=INFO
"""


def _cluster_id() -> str:
    # Kafka's Uuid: 16 random bytes, URL-safe base64 without padding, never starting with '-'.
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


class KafkaServer(Server):
    """Kafka broker and controller in one JVM on loopback.

    Replication factors are 1 and ``group.initial.rebalance.delay.ms`` is 0 so consumer
    groups form at once. Data survives :meth:`restart` and :meth:`kill`.
    """

    name = "kafka"

    def __init__(
        self,
        run_dir: Path,
        *,
        home: Path,
        port: int | None = None,
        controller_port: int | None = None,
        host: str = "127.0.0.1",
        heap: str = "512m",
        properties: Mapping[str, str] | None = None,
    ):
        super().__init__(run_dir, host)
        self.home = home
        self.port = port or free_port(host)
        self.controller_port = controller_port or free_port(host)
        self.heap = heap
        self.properties = dict(properties or {})
        self._log_offset = 0

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.run_dir / "data"

    def _java(self) -> list[str]:
        java = shutil.which("java")
        if java is None:
            raise ServiceError("java is not on PATH; Kafka needs a JDK 17")
        if not (self.home / "libs").is_dir():
            raise ServiceError(f"no Kafka jars in {self.home}; run 'fieldlink lab install'")
        return [
            java,
            f"-Xms{self.heap}",
            f"-Xmx{self.heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{self.run_dir / 'log4j.properties'}",
            "-Dkafka.logs.dir=" + str(self.run_dir / "logs"),
            "-cp",
            str(self.home / "libs" / "*"),
        ]

    def _prepare(self) -> None:
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{self.host}:{self.controller_port}",
            "listeners": f"PLAINTEXT://{self.host}:{self.port},"
            f"CONTROLLER://{self.host}:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{self.host}:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.partitions": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "false",
            "log.segment.bytes": str(64 * 1024 * 1024),
            "log.retention.check.interval.ms": "60000",
            **self.properties,
        }
        config = self.run_dir / "server.properties"
        config.write_text("".join(f"{key}={value}\n" for key, value in props.items()))
        (self.run_dir / "log4j.properties").write_text(_LOG4J)
        if not (self.data_dir / "meta.properties").is_file():
            out = subprocess.run(
                [
                    *self._java(),
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    _cluster_id(),
                    "-c",
                    str(config),
                ],
                capture_output=True,
                text=True,
                timeout=180,
                check=False,
            )
            if out.returncode != 0:
                raise ServiceError(f"kafka storage format failed:\n{out.stdout}\n{out.stderr}")

    def _started(self) -> bool:
        if not port_open(self.host, self.port):
            return False
        with self.process.log_path.open("rb") as log:
            log.seek(self._log_offset)
            return _STARTED.encode() in log.read()

    def start(self) -> KafkaServer:
        log = self.run_dir / f"{self.name}.log"
        self._log_offset = log.stat().st_size if log.exists() else 0
        super().start()
        return self

    def _make_process(self) -> ManagedProcess:
        return ManagedProcess(
            self.name,
            [*self._java(), "kafka.Kafka", self.run_dir / "server.properties"],
            run_dir=self.run_dir,
            ready=self._started,
            ready_timeout=120,
            stop_timeout=30,
        )
