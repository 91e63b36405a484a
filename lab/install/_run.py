"""Running long external commands with visible progress and a full log on disk."""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path

from rich.console import Console

from .errors import InstallError

__all__ = ["Progress", "run_logged"]

logger = logging.getLogger(__name__)


class Progress:
    """Shows what an install step is doing: a live spinner on a terminal, a line every
    ``interval`` seconds otherwise (CI logs), so a 30-minute build never looks hung."""

    def __init__(self, console: Console | None = None, interval: float = 30.0):
        self.console = console or Console(stderr=True, soft_wrap=True)
        self.interval = interval

    def say(self, text: str) -> None:
        self.console.print(text, highlight=False)

    def run(
        self,
        title: str,
        argv: Sequence[str | os.PathLike[str]],
        *,
        log: Path,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        run_logged(title, argv, log=log, cwd=cwd, env=env, progress=self)


def run_logged(
    title: str,
    argv: Sequence[str | os.PathLike[str]],
    *,
    log: Path,
    progress: Progress,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> None:
    """Run ``argv``, appending its output to ``log``; raise :class:`InstallError` on failure
    with the last lines of output, so the cause is on screen and not only in the file."""
    log.parent.mkdir(parents=True, exist_ok=True)
    tail: deque[str] = deque(maxlen=25)
    full_env = {**os.environ, **(env or {})}
    started = time.monotonic()
    command = [os.fspath(part) for part in argv]
    with log.open("a", encoding="utf-8") as sink:
        sink.write(f"\n$ {' '.join(command)}\n")
        sink.flush()
        try:
            proc = subprocess.Popen(
                command,
                cwd=cwd,
                env=full_env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
            )
        except FileNotFoundError as exc:
            raise InstallError(f"{title}: {command[0]} is not installed ({exc})") from exc
        assert proc.stdout is not None
        last = {"line": ""}

        def pump() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                sink.write(line)
                stripped = line.strip()
                if stripped:
                    tail.append(stripped)
                    last["line"] = stripped
            sink.flush()

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        console = progress.console
        if console.is_terminal:
            with console.status(title) as status:
                while reader.is_alive():
                    reader.join(0.5)
                    elapsed = _elapsed(started)
                    status.update(f"{title} [dim]{elapsed} {last['line'][:80]}[/dim]")
        else:
            next_report = started + progress.interval
            while reader.is_alive():
                reader.join(1.0)
                if time.monotonic() >= next_report and reader.is_alive():
                    progress.say(f"  ... {title}: {_elapsed(started)} {last['line'][:100]}")
                    next_report += progress.interval
        code = proc.wait()
    if code != 0:
        shown = "\n    ".join(tail)
        raise InstallError(
            f"{title} failed (exit {code}); full log: {log}\n  last output:\n    {shown}"
        )
    progress.say(f"  {title}: done in {_elapsed(started)}")


def _elapsed(started: float) -> str:
    seconds = int(time.monotonic() - started)
    return f"{seconds // 60}m{seconds % 60:02d}s"
