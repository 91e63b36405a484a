"""``fieldlink edge``: run the agent, inspect a buffer file."""

from __future__ import annotations

import datetime as dt
import logging
import signal
import time
from pathlib import Path
from types import FrameType

import click

from fieldlink.errors import ConfigError

from .errors import EdgeError
from .settings import EdgeSettings

__all__ = ["group"]

logger = logging.getLogger(__name__)


@click.group(name="edge")
def group() -> None:
    """The Raspberry Pi agent: sample sensors, buffer, publish."""


@group.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Agent settings (TOML); FIELDLINK_EDGE_* variables override it.",
)
@click.option("--simulate", is_flag=True, help="Simulated sensors on gpiozero's MockFactory.")
def run(config_path: Path, simulate: bool) -> None:
    """Run the agent until SIGTERM or SIGINT."""
    from .agent import Agent  # heavy imports only when running

    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    try:
        settings = EdgeSettings.load(config_path)
        agent = Agent.build(settings, simulate=simulate)
    except (ConfigError, EdgeError) as exc:
        raise click.ClickException(str(exc)) from None

    def on_signal(signum: int, frame: FrameType | None) -> None:
        logger.info("signal %d: stopping", signum)
        agent.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    agent.run()


@group.command()
@click.option(
    "--buffer",
    "buffer_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    required=True,
    help="The agent's SQLite buffer file.",
)
def status(buffer_path: Path) -> None:
    """Inspect a buffer file: depth, oldest reading, seq range, drops."""
    import sqlite3

    # Read-only and without the agent's class: works while the agent runs, on any device.
    uri = f"file:{buffer_path}?mode=ro"
    try:
        with sqlite3.connect(uri, uri=True) as db:
            device = db.execute("SELECT value FROM meta WHERE key = 'device'").fetchone()
            depth, size, first, last = db.execute(
                "SELECT count(*), coalesce(sum(size), 0), min(seq), max(seq) FROM readings"
            ).fetchone()
            oldest = db.execute("SELECT ts_ns FROM readings ORDER BY seq LIMIT 1").fetchone()
            next_seq = db.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()
            drops = db.execute("SELECT reason, count FROM drops ORDER BY reason").fetchall()
            has_record = db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'generated'"
            ).fetchone()
            recorded = (
                db.execute("SELECT count(*), min(seq), max(seq) FROM generated").fetchone()
                if has_record
                else None
            )
    except sqlite3.DatabaseError as exc:
        raise click.ClickException(f"{buffer_path}: not a fieldlink buffer ({exc})") from None
    click.echo(f"device:    {device[0] if device else '?'}")
    click.echo(f"depth:     {depth} readings ({size} bytes)")
    if oldest is not None:
        ts = dt.datetime.fromtimestamp(oldest[0] / 1e9, tz=dt.UTC)
        age = time.time() - oldest[0] / 1e9
        click.echo(f"oldest:    {ts.isoformat()} ({age:.0f} s ago)")
    else:
        click.echo("oldest:    -")
    click.echo(f"seq range: {first}..{last}" if first is not None else "seq range: -")
    click.echo(f"next seq:  {next_seq[0] if next_seq else 0}")
    click.echo("dropped:   " + (", ".join(f"{r}={c}" for r, c in drops) or "none"))
    if recorded is not None:
        count, low, high = recorded
        span = f" (seqs {low}..{high})" if count else ""
        click.echo(f"recorded:  {count} readings generated{span}")
