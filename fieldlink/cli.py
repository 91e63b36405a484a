"""The ``fieldlink`` command: a root that mounts each tier's command group lazily.

A tier's module is imported only when its command runs, so an edge-only install (no Faust,
no Kafka client) can run ``fieldlink edge ...`` and still list every command.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

import click

from fieldlink import __version__

__all__ = ["main"]

# command name -> ("module:attribute", one-line help, extra that provides it)
_SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "lab": ("lab.cli:group", "Local stack: install and run the servers, simulated fleet.", "dev"),
    "device": (
        "firmware.cli:device_group",
        "Device registry: add, list, show, revoke, rotate.",
        "firmware",
    ),
    "firmware": ("firmware.cli:group", "Build and flash Raspberry Pi images.", "firmware"),
    "edge": ("edge.cli:group", "The Raspberry Pi agent: sample sensors, buffer, publish.", "edge"),
    "bridge": ("broker.bridge.cli:group", "MQTT <-> Kafka bridge.", "broker"),
    "broker": ("broker.cli:group", "Mosquitto config, credentials, ACL and TLS.", "broker"),
    "cloud": ("cloud.cli:group", "Faust processors, InfluxDB sink and API.", "cloud"),
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *_SUBCOMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in _SUBCOMMANDS:
            return super().get_command(ctx, cmd_name)
        target, help_text, extra = _SUBCOMMANDS[cmd_name]
        module_name, attribute = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            return _missing_extra(cmd_name, help_text, extra, exc)
        command = getattr(module, attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # List lazy commands from the table so --help imports nothing heavy.
        rows = [(name, _SUBCOMMANDS[name][1]) for name in sorted(_SUBCOMMANDS)]
        rows += [(name, cmd.get_short_help_str()) for name, cmd in sorted(self.commands.items())]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _missing_extra(name: str, help_text: str, extra: str, error: ImportError) -> click.Command:
    def run(**_: Any) -> None:
        raise click.ClickException(
            f"'fieldlink {name}' needs the '{extra}' extra ({error}). "
            f"Install it with: pip install 'fieldlink[{extra}]'"
        )

    return click.Command(
        name,
        callback=run,
        help=help_text,
        context_settings={"ignore_unknown_options": True},
        params=[click.Argument(["args"], nargs=-1, type=click.UNPROCESSED)],
    )


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fieldlink")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """fieldlink: IoT edge-to-cloud pipeline with exactly-once storage through partitions.

    Raspberry Pi agents sample gpiozero sensors and publish over MQTT; Mosquitto bridges into
    Kafka; Faust processors deduplicate, aggregate and alert; InfluxDB stores the series.
    """
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def main() -> None:
    cli(prog_name="fieldlink")
