"""``fieldlink device ...`` and ``fieldlink firmware ...``: thin shells over the registry,
the image builder and the flasher."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from broker.mosquitto import Credential
from firmware.errors import FirmwareError
from firmware.flash import DEFAULT_MAX_SIZE, flash_image
from firmware.image import BuildRequest, build_image
from firmware.profiles import DEFAULT_PROFILE, PROFILES
from firmware.registry import Issued, Registry, default_state_dir

__all__ = ["device_group", "group"]

log = logging.getLogger(__name__)

_state_dir_option = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Deployment state directory [env FIELDLINK_STATE_DIR, default ~/.local/state/fieldlink].",
)


def _registry(state_dir: Path | None) -> Registry:
    return Registry(state_dir or default_state_dir())


def _fail(error: Exception) -> click.ClickException:
    return click.ClickException(str(error))


def _show_issued(console: Console, issued: Issued, registry: Registry) -> None:
    console.print(f"device [bold]{issued.device.id}[/bold] (site {issued.device.site})")
    console.print(f"  mqtt username: {issued.device.id}")
    console.print(f"  mqtt password: {issued.password}")
    console.print(
        "  [yellow]The password is shown once and stored only hashed. 'fieldlink firmware "
        "build' issues fresh credentials into the image.[/yellow]"
    )
    if issued.certificate is not None:
        console.print(f"  client cert serial: {issued.certificate.serial:x}")
    console.print(f"  broker files: {registry.password_file}, {registry.acl_file}")
    console.print("  reload Mosquitto (kill -HUP) to apply.")


@click.group("device")
def device_group() -> None:
    """Device registry: add, list, show, revoke, rotate."""


@device_group.command("add")
@click.argument("name")
@click.option("--site", required=True, help="Site the device publishes under.")
@click.option(
    "--sensors",
    "profile",
    type=click.Choice(sorted(PROFILES)),
    default=DEFAULT_PROFILE,
    show_default=True,
    help="Sensor profile (see firmware/GUIDE.md for wiring).",
)
@click.option("--cert", is_flag=True, help="Also issue an X.509 client certificate.")
@_state_dir_option
def add(name: str, site: str, profile: str, cert: bool, state_dir: Path | None) -> None:
    """Register device NAME and issue its MQTT credentials."""
    registry = _registry(state_dir)
    try:
        issued = registry.add(name, site=site, profile=profile, cert=cert)
    except (FirmwareError, KeyError) as exc:
        raise _fail(exc) from exc
    _show_issued(Console(), issued, registry)


@device_group.command("list")
@click.option("--all", "include_revoked", is_flag=True, help="Include revoked devices.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_state_dir_option
def list_devices(include_revoked: bool, as_json: bool, state_dir: Path | None) -> None:
    """List registered devices."""
    registry = _registry(state_dir)
    try:
        devices = registry.devices(include_revoked=include_revoked)
    except FirmwareError as exc:
        raise _fail(exc) from exc
    if as_json:
        rows = [d.model_dump(mode="json", exclude={"password_hash"}) for d in devices]
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table("device", "site", "profile", "state", "credentials issued", "cert")
    for d in devices:
        table.add_row(
            d.id,
            d.site,
            d.profile,
            d.state.value,
            f"{d.credentials_issued_at:%Y-%m-%d %H:%M}",
            d.cert_serial[:12] if d.cert_serial else "-",
        )
    Console().print(table)


@device_group.command("show")
@click.argument("name")
@_state_dir_option
def show(name: str, state_dir: Path | None) -> None:
    """Show one device: record, topics and ACL (never its password)."""
    registry = _registry(state_dir)
    try:
        device = registry.get(name)
    except FirmwareError as exc:
        raise _fail(exc) from exc
    record: dict[str, Any] = device.model_dump(mode="json", exclude={"password_hash"})
    record["topics"] = {channel.value: topic for channel, topic in device.topics().items()}
    click.echo(json.dumps(record, indent=2))


@device_group.command("revoke")
@click.argument("name")
@_state_dir_option
def revoke(name: str, state_dir: Path | None) -> None:
    """Revoke NAME: it leaves the password file and ACL (refused after a broker reload)."""
    registry = _registry(state_dir)
    try:
        registry.revoke(name)
    except FirmwareError as exc:
        raise _fail(exc) from exc
    click.echo(f"revoked {name}; reload Mosquitto (kill -HUP) to refuse it")


@device_group.command("rotate")
@click.argument("name")
@_state_dir_option
def rotate(name: str, state_dir: Path | None) -> None:
    """Issue NAME a new password (and certificate); the old ones stop after a reload."""
    registry = _registry(state_dir)
    try:
        issued = registry.rotate(name)
    except FirmwareError as exc:
        raise _fail(exc) from exc
    _show_issued(Console(), issued, registry)


@device_group.command("export")
@click.option("--password-file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--acl-file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--bridge-user",
    default=None,
    help="Also put this bridge credential in the files (one complete deployment).",
)
@click.option(
    "--bridge-password",
    envvar="FIELDLINK_BRIDGE_MQTT_PASSWORD",
    default=None,
    help="The bridge's password, for --password-file with --bridge-user.",
)
@_state_dir_option
def export(
    password_file: Path | None,
    acl_file: Path | None,
    bridge_user: str | None,
    bridge_password: str | None,
    state_dir: Path | None,
) -> None:
    """Print the registry as JSON (no secrets); optionally write the broker files."""
    registry = _registry(state_dir)
    if bridge_user and password_file is not None and not bridge_password:
        raise click.UsageError(
            "--bridge-user with --password-file needs --bridge-password "
            "(or FIELDLINK_BRIDGE_MQTT_PASSWORD)"
        )
    bridge_users = [bridge_user] if bridge_user else []
    try:
        if password_file is not None:
            extra = [Credential(u, bridge_password or "") for u in bridge_users]
            registry.write_password_file(password_file, extra=extra)
        if acl_file is not None:
            registry.write_acl_file(acl_file, bridge_users=bridge_users)
        click.echo(registry.export(), nl=False)
    except FirmwareError as exc:
        raise _fail(exc) from exc


@click.group("firmware")
def group() -> None:
    """Build and flash Raspberry Pi images."""


@group.command("build")
@click.option(
    "--base",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Stock Raspberry Pi OS image (.img or .img.xz); never modified.",
)
@click.option("--device", "device", required=True, help="Registered device id.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--mqtt-host", required=True, help="Broker host name as the Pi will see it.")
@click.option("--mqtt-port", type=int, default=1883, show_default=True)
@click.option("--mqtt-tls", is_flag=True, help="Connect to the broker with TLS.")
@click.option(
    "--mqtt-ca",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="CA that signed the broker's certificate.",
)
@click.option(
    "--wheel",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="fieldlink wheel to install (default: build one from this checkout).",
)
@click.option(
    "--wheelhouse",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Folder of dependency wheels for an offline install.",
)
@click.option("--wifi-ssid")
@click.option("--wifi-psk")
@click.option("--wifi-country", default="GB", show_default=True)
@click.option("--ssh-key", "ssh_keys", multiple=True, help="Public key text or a .pub file.")
@click.option("--user", default="pi", show_default=True, help="Admin user to create.")
@click.option("--ntp", "ntp_servers", multiple=True, help="NTP server (repeatable).")
@click.option("--timezone", default="Etc/UTC", show_default=True)
@click.option(
    "--release",
    type=click.Choice(["auto", "bookworm", "trixie"]),
    default="auto",
    show_default=True,
    help="Raspberry Pi OS release; auto reads /etc/os-release from the root partition.",
)
@click.option("--spi", is_flag=True, help="Enable SPI even if the profile does not need it.")
@click.option("--i2c", is_flag=True, help="Enable I2C even if the profile does not need it.")
@_state_dir_option
def build(
    base: Path,
    device: str,
    output: Path,
    mqtt_host: str,
    mqtt_port: int,
    mqtt_tls: bool,
    mqtt_ca: Path | None,
    wheel: Path | None,
    wheelhouse: Path | None,
    wifi_ssid: str | None,
    wifi_psk: str | None,
    wifi_country: str,
    ssh_keys: tuple[str, ...],
    user: str,
    ntp_servers: tuple[str, ...],
    timezone: str,
    release: str,
    spi: bool,
    i2c: bool,
    state_dir: Path | None,
) -> None:
    """Customise a Raspberry Pi OS image for one device, without mounting it."""
    keys = [Path(k).read_text() if Path(k).is_file() else k for k in ssh_keys]
    request = BuildRequest(
        base=base,
        device=device,
        output=output,
        mqtt_host=mqtt_host,
        mqtt_port=mqtt_port,
        mqtt_tls=mqtt_tls,
        mqtt_ca=mqtt_ca,
        wheel=wheel,
        wheelhouse=wheelhouse,
        wifi_ssid=wifi_ssid,
        wifi_psk=wifi_psk,
        wifi_country=wifi_country,
        ssh_keys=[line for key in keys for line in key.splitlines() if line.strip()],
        user=user,
        ntp_servers=ntp_servers or ("pool.ntp.org",),
        timezone=timezone,
        release=release,
        extra_interfaces=[name for name, on in (("spi", spi), ("i2c", i2c)) if on],
    )
    console = Console(stderr=True)
    try:
        result = build_image(
            request, registry=_registry(state_dir), progress=lambda text: console.print(text)
        )
    except (FirmwareError, ValueError, KeyError) as exc:
        raise _fail(exc) from exc
    click.echo(f"wrote {result.output} for {result.device} ({result.release})")
    click.echo("the device has fresh credentials: reload Mosquitto (kill -HUP) so it can connect")


@group.command("flash")
@click.option("--image", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--target", required=True, type=click.Path(path_type=Path), help="e.g. /dev/sdb")
@click.option("--force", is_flag=True, help="Skip the mounted/removable/size checks.")
@click.option("--allow-file", is_flag=True, help="Accept a regular file as the target (tests).")
@click.option(
    "--max-size",
    type=int,
    default=DEFAULT_MAX_SIZE,
    show_default=True,
    help="Refuse targets larger than this many bytes.",
)
def flash(image: Path, target: Path, force: bool, allow_file: bool, max_size: int) -> None:
    """Write IMAGE to TARGET with a progress bar and verify it by reading back."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True)) as bar:
        tasks: dict[str, Any] = {}

        def report(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total)
            bar.update(tasks[phase], completed=done)

        try:
            result = flash_image(
                image,
                target,
                force=force,
                allow_file=allow_file,
                max_size=max_size,
                progress=report,
            )
        except FirmwareError as exc:
            raise _fail(exc) from exc
    click.echo(f"flashed and verified {result.target}: sha256 {result.verified_sha256}")
