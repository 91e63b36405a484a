"""``fieldlink broker``: render a hardened Mosquitto directory from a device list."""

from __future__ import annotations

import csv
from pathlib import Path

import click

from broker.errors import CredentialError
from broker.mosquitto import Credential, DeviceEntry, Profile, generate_password, write_broker_dir

__all__ = ["group"]


@click.group(name="broker")
def group() -> None:
    """Mosquitto config, credentials, ACL and TLS."""


def _read_devices(path: Path) -> list[DeviceEntry]:
    """CSV rows ``device,password[,site]``; '#' starts a comment line."""
    entries = []
    with path.open(newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            if not row or row[0].startswith("#"):
                continue
            if len(row) not in (2, 3):
                raise click.BadParameter(
                    f"{path}:{number}: expected device,password[,site]", param_hint="--devices"
                )
            site = row[2].strip() if len(row) == 3 and row[2].strip() else None
            entries.append(DeviceEntry(Credential(row[0].strip(), row[1].strip()), site))
    return entries


@group.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--profile",
    type=click.Choice([p.value for p in Profile]),
    default=Profile.PRODUCTION.value,
    show_default=True,
    help="lab: 1 s autosave, logs to stdout, TLS on loopback; production: syslog, 10 s.",
)
@click.option(
    "--devices",
    "devices_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="CSV of device,password[,site]. With a site on every row the ACL pins each "
    "device to its site.",
)
@click.option("--bridge-user", default="fieldlink-bridge", show_default=True)
@click.option(
    "--bridge-password",
    envvar="FIELDLINK_BRIDGE_MQTT_PASSWORD",
    default=None,
    help="Default: generated and printed once.",
)
@click.option("--port", default=1883, show_default=True, help="Plain listener (loopback).")
@click.option("--tls-port", default=8883, show_default=True, help="TLS listener for devices.")
@click.option(
    "--cert-port",
    type=int,
    default=None,
    help="Also a TLS listener where devices authenticate with a client certificate.",
)
@click.option("--hostname", "hostnames", multiple=True, default=["localhost"], show_default=True)
def config(
    directory: Path,
    profile: str,
    devices_file: Path | None,
    bridge_user: str,
    bridge_password: str | None,
    port: int,
    tls_port: int,
    cert_port: int | None,
    hostnames: tuple[str, ...],
) -> None:
    """Write mosquitto.conf, passwd, acl and tls/ (CA + server certificate) to DIRECTORY."""
    devices = _read_devices(devices_file) if devices_file else []
    generated = bridge_password is None
    password = bridge_password or generate_password()
    try:
        result = write_broker_dir(
            directory,
            bridge=Credential(bridge_user, password),
            devices=devices,
            profile=Profile(profile),
            listener_port=port,
            tls_port=tls_port,
            tls_hostnames=hostnames,
            cert_port=cert_port,
        )
    except CredentialError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {result.conf_file} ({len(devices)} devices)")
    click.echo(f"run: mosquitto -c {result.conf_file}")
    if generated:
        click.echo(f"bridge credential: {bridge_user} / {password}")
