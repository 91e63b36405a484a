"""Our own Mosquitto instance: own config, port and persistence; never the system service."""

from __future__ import annotations

import getpass
from pathlib import Path

from lab.install.mosquitto import mosquitto_binary

from ._process import ManagedProcess, ServiceError, free_port, port_open
from ._server import Server

__all__ = ["MosquittoServer"]


class MosquittoServer(Server):
    """Mosquitto 2 on ``host:port`` with persistence in the run directory.

    ``config`` replaces the default lab configuration (anonymous access, unbounded queues);
    the broker tier passes its hardened template here. Either way the listener, persistence
    and log lines are written by this class.

    >>> server = MosquittoServer(Path("/tmp/run/mqtt"))   # doctest: +SKIP
    >>> with server:                                       # doctest: +SKIP
    ...     publish_somewhere(server.host, server.port)
    """

    name = "mosquitto"

    DEFAULT_CONFIG = (
        "allow_anonymous true\n"
        "# QoS1 messages for slow or offline persistent sessions are queued, never dropped.\n"
        "max_queued_messages 0\n"
        "max_queued_bytes 0\n"
        "max_inflight_messages 0\n"
    )

    def __init__(
        self,
        run_dir: Path,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        config: str | None = None,
    ):
        super().__init__(run_dir, host)
        self.port = port or free_port(host)
        self.config = self.DEFAULT_CONFIG if config is None else config

    @property
    def config_path(self) -> Path:
        return self.run_dir / "mosquitto.conf"

    def _prepare(self) -> None:
        data = self.run_dir / "data"
        data.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(
            f"# written by fieldlink lab; edits are overwritten on start\n"
            f"user {getpass.getuser()}\n"
            f"persistence true\n"
            f"persistence_location {data}/\n"
            f"autosave_interval 1\n"
            f"log_dest stdout\n"
            f"log_type error\nlog_type warning\nlog_type notice\n"
            f"connection_messages false\n"
            f"per_listener_settings false\n"
            f"listener {self.port} {self.host}\n"
            f"{self.config}"
        )

    def _make_process(self) -> ManagedProcess:
        binary = mosquitto_binary()
        if binary is None:
            raise ServiceError("mosquitto is not installed; run 'fieldlink lab install'")
        return ManagedProcess(
            self.name,
            [binary, "-c", self.config_path],
            run_dir=self.run_dir,
            ready=lambda: port_open(self.host, self.port),
            ready_timeout=20,
        )
