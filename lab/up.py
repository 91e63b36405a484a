"""``fieldlink lab up``: start the stack, show it live, stop it cleanly.

Ctrl-C, SIGTERM or ``--duration`` end the run; everything started is stopped on the way
out, whatever happened.
"""

from __future__ import annotations

import signal
import time
from collections import deque
from pathlib import Path

from rich.console import Console
from rich.live import Live

from lab.live import ApiPoller, Snapshot, render
from lab.settings import LabSettings
from lab.stack import Stack, StackSpec

__all__ = ["run_up"]

_POLL_S = 2.0
_RATE_WINDOW = 8
"""Readings/s is averaged over this many polls: workers report their counters every few
seconds, so a two-second difference is mostly zero or a burst."""


def run_up(
    *,
    devices: int,
    duration_s: float | None,
    run_dir: Path | None,
    sample_hz: float,
    workers: int,
    use_namespaces: bool | None,
    lab: LabSettings,
    console: Console | None = None,
) -> None:
    console = console or Console()
    spec = StackSpec(
        devices=devices,
        sample_hz=sample_hz,
        workers=workers,
        run_dir=run_dir,
        use_namespaces=use_namespaces,
        partitions=max(4, workers),
        reports_dir=lab.reports_dir,
    )
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    started = time.monotonic()
    with console.status("starting the lab") as status:

        def step(text: str) -> None:
            status.update(f"{text}...")
            console.log(text)

        stack = Stack(spec, lab=lab, on_step=step)
        try:
            stack.start()
        except KeyboardInterrupt:
            console.log("interrupted while starting; everything started is stopped")
            return
    try:
        console.print(
            f"[b]dashboard:[/b] {stack.api_url}/ui/   [b]API:[/b] {stack.api_url}/devices "
            f"(also /alerts, /pipeline, /metrics)\n"
            f"[b]replay reports:[/b] {lab.reports_dir} (listed on the dashboard)   "
            f"[b]run directory:[/b] {stack.run_dir}"
        )
        poller = ApiPoller(stack.api_url)
        history: deque[Snapshot] = deque([poller.poll()], maxlen=_RATE_WINDOW)
        now = history[0]
        with Live(
            render(None, now, fleet=devices, api_url=stack.api_url, mode=stack.mode),
            console=console,
            refresh_per_second=2,
        ) as live:
            while duration_s is None or time.monotonic() - started < duration_s:
                time.sleep(_POLL_S)
                now = poller.poll()
                history.append(now)
                live.update(
                    render(history[0], now, fleet=devices, api_url=stack.api_url, mode=stack.mode)
                )
        console.print()
    except KeyboardInterrupt:
        pass
    finally:
        with console.status("stopping every process"):
            stack.stop()
        console.log(f"lab stopped; logs and data kept in {stack.run_dir}")
