"""``fieldlink bridge``: run the MQTT <-> Kafka bridge."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from broker.errors import BrokerError
from fieldlink.errors import ConfigError

from .service import Bridge
from .settings import BridgeSettings

__all__ = ["group"]


@click.group(name="bridge")
def group() -> None:
    """MQTT <-> Kafka bridge (at-least-once, validating, with dead letters)."""


@group.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="TOML settings file; FIELDLINK_BRIDGE_* environment variables override it.",
)
def run(config_path: Path | None) -> None:
    """Run the bridge until SIGTERM or Ctrl-C."""
    try:
        settings = BridgeSettings.load(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None

    async def main() -> None:
        bridge = Bridge(settings)
        bridge.install_signal_handlers()
        await bridge.run()

    try:
        asyncio.run(main())
    except BrokerError as exc:  # refused credentials, unreachable broker, topic setup
        raise click.ClickException(str(exc)) from None
