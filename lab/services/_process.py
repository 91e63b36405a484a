"""Supervising one server process: start, wait until healthy, stop, kill, restart.

Every server gets a run directory holding its config, data and ``<name>.log``. Processes are
started in their own session and, on Linux, with ``PR_SET_PDEATHSIG`` so a server dies with
the process that started it even if that process is SIGKILLed: no test or lab run leaves a
server behind. Stopping signals the whole process group and then, via psutil, any
descendant that escaped it.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import psutil
from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from fieldlink.errors import FieldlinkError

__all__ = ["ManagedProcess", "ServiceError", "free_port", "port_open"]

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


class ServiceError(FieldlinkError, RuntimeError):
    """A server failed to start, exited, or did not become healthy in time."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class ManagedProcess:
    """One supervised server process.

    ``ready`` is a cheap health probe returning True once the server accepts work; start()
    polls it until ``ready_timeout`` and fails with the log's tail if the process exits or
    never becomes ready.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str | os.PathLike[str]],
        *,
        run_dir: Path,
        ready: Callable[[], bool],
        ready_timeout: float = 60.0,
        env: Mapping[str, str] | None = None,
        stop_timeout: float = 20.0,
    ):
        self.name = name
        self.argv = [os.fspath(a) for a in argv]
        self.run_dir = run_dir
        self.ready = ready
        self.ready_timeout = ready_timeout
        self.env = dict(env or {})
        self.stop_timeout = stop_timeout
        self.log_path = run_dir / f"{name}.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> Self:
        if self.running:
            return self
        self.run_dir.mkdir(parents=True, exist_ok=True)
        logger.info("starting %s: %s", self.name, " ".join(self.argv))
        with self.log_path.open("ab") as log:
            log.write(f"\n--- start {time.strftime('%H:%M:%S')}: {self.argv}\n".encode())
            log.flush()
            try:
                self._proc = subprocess.Popen(
                    self.argv,
                    cwd=self.run_dir,
                    env={**os.environ, **self.env},
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=_die_with_parent,
                )
            except FileNotFoundError as exc:
                raise ServiceError(
                    f"{self.name}: {self.argv[0]} not found; run 'fieldlink lab install'"
                ) from exc
        self._wait_ready()
        logger.info("%s ready (pid %s)", self.name, self.pid)
        return self

    def _wait_ready(self) -> None:
        def probe() -> bool:
            if not self.running:
                return True  # stop polling; reported below
            try:
                return self.ready()
            except Exception:  # noqa: BLE001 - a probe failing just means "not ready yet"
                return False

        retrying = Retrying(
            stop=stop_after_delay(self.ready_timeout),
            wait=wait_fixed(0.2),
            retry=retry_if_result(lambda ok: not ok),
        )
        try:
            retrying(probe)
        except RetryError:
            self.stop()
            raise ServiceError(
                f"{self.name} not healthy after {self.ready_timeout:.0f}s\n{self.log_tail()}"
            ) from None
        if not self.running:
            code = self._proc.returncode if self._proc else None
            raise ServiceError(f"{self.name} exited with status {code}\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return f"(no log at {self.log_path})"
        return f"--- last lines of {self.log_path}:\n" + "\n".join(text[-lines:])

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL what is left after ``stop_timeout``."""
        self._terminate(signal.SIGTERM, self.stop_timeout)

    def kill(self) -> None:
        """SIGKILL at once, as a crash or power loss would."""
        self._terminate(signal.SIGKILL, 5.0)

    def restart(self) -> Self:
        self.stop()
        return self.start()

    def _terminate(self, sig: signal.Signals, timeout: float) -> None:
        proc = self._proc
        if proc is None:
            return
        try:
            family = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            family = []
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        _, alive = psutil.wait_procs(family, timeout=timeout)
        for leftover in alive:
            logger.warning("%s: pid %s ignored %s; killing it", self.name, leftover.pid, sig.name)
            with contextlib.suppress(psutil.NoSuchProcess):
                leftover.kill()
        psutil.wait_procs(alive, timeout=5)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        self._proc = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
