"""Common shape of the servers the lab runs: prepare a run directory, then supervise."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from typing import Self

from ._process import ManagedProcess

__all__ = ["Server"]


class Server(ABC):
    """A server with a run directory (config, data, log) that can be started, stopped,
    SIGKILLed and restarted with its data intact, as the fault scenarios need."""

    name: str

    def __init__(self, run_dir: Path, host: str = "127.0.0.1"):
        self.run_dir = run_dir
        self.host = host
        self._process: ManagedProcess | None = None

    @abstractmethod
    def _prepare(self) -> None:
        """Write config files and initialise storage; called before every start."""

    @abstractmethod
    def _make_process(self) -> ManagedProcess: ...

    def _after_start(self) -> None:  # noqa: B027 - optional hook, most servers need none
        """Hook for one-time setup that needs the server up (InfluxDB onboarding)."""

    @property
    def process(self) -> ManagedProcess:
        if self._process is None:
            self._process = self._make_process()
        return self._process

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.running

    @property
    def log_path(self) -> Path:
        return self.process.log_path

    def start(self) -> Self:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._prepare()
        self.process.start()
        self._after_start()
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()

    def kill(self) -> None:
        if self._process is not None:
            self._process.kill()

    def restart(self) -> Self:
        self.stop()
        return self.start()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
