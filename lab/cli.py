"""``fieldlink lab``: provision and run the real servers on this machine."""

from __future__ import annotations

import signal
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import click

from fieldlink.errors import FieldlinkError
from lab.install import COMPONENTS, InstallError, install, installers
from lab.services import InfluxServer, KafkaServer, MosquittoServer, ServiceError
from lab.settings import LabSettings

__all__ = ["group"]


def _settings() -> LabSettings:
    try:
        return LabSettings.load()
    except FieldlinkError as exc:
        raise click.ClickException(str(exc)) from None


@click.group(name="lab")
def group() -> None:
    """The local lab: real Mosquitto, Kafka and InfluxDB on this machine.

    Servers are installed into FIELDLINK_CACHE_DIR (default ~/.cache/fieldlink), outside the
    repository, so every clone and CI run reuses them.
    """
    # SIGTERM (a service manager, a CI timeout) stops a lab command like Ctrl-C: everything
    # it started - servers, agents, network namespaces - is stopped on the way out.
    signal.signal(signal.SIGTERM, signal.default_int_handler)


@group.command(name="install")
@click.option(
    "--only",
    "only",
    multiple=True,
    type=click.Choice(COMPONENTS),
    help="Install only this component (repeatable). Default: all of them.",
)
@click.option("--force", is_flag=True, help="Reinstall even what is already installed.")
def install_command(only: tuple[str, ...], force: bool) -> None:
    """Install Mosquitto (Debian), Kafka (Maven Central jars) and InfluxDB (built from Go).

    Idempotent: what is installed is checked in a second and never rebuilt. The first
    InfluxDB build compiles libflux (Rust) and influxd (Go): 5-40 minutes depending on the
    machine and its Go build cache; progress is printed while it runs.
    """
    settings = _settings()
    started = time.monotonic()
    try:
        install(settings, only or COMPONENTS, force=force)
    except InstallError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"lab install: all present ({time.monotonic() - started:.1f}s)", err=True)


@group.command(name="status")
def status_command() -> None:
    """Show what is installed and where."""
    settings = _settings()
    for name, installer in installers(settings).items():
        mark = "ok     " if installer.is_installed() else "missing"
        click.echo(f"{mark} {name:10} {installer.describe()}")


@group.command(name="servers")
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where configs, data and logs go (default: a new temporary directory).",
)
@click.option("--mqtt-port", type=int, default=1883, show_default=True)
@click.option("--kafka-port", type=int, default=9092, show_default=True)
@click.option("--influx-port", type=int, default=8086, show_default=True)
def servers_command(
    run_dir: Path | None, mqtt_port: int, kafka_port: int, influx_port: int
) -> None:
    """Run Mosquitto, Kafka and InfluxDB in the foreground until Ctrl-C.

    Handy for developing a tier against real servers. Data stays in --run-dir.
    """
    settings = _settings()
    run_dir = run_dir or Path(tempfile.mkdtemp(prefix="fieldlink-lab-"))
    with ExitStack() as stack:
        try:
            click.echo(f"run directory: {run_dir}", err=True)
            mqtt = stack.enter_context(MosquittoServer(run_dir / "mosquitto", port=mqtt_port))
            click.echo(f"mosquitto  mqtt://{mqtt.host}:{mqtt.port}")
            kafka = stack.enter_context(
                KafkaServer(run_dir / "kafka", home=settings.kafka_home, port=kafka_port)
            )
            click.echo(f"kafka      {kafka.bootstrap_servers}")
            influx = stack.enter_context(
                InfluxServer(run_dir / "influxdb", binary=settings.influxd_path, port=influx_port)
            )
            creds = influx.credentials
            click.echo(
                f"influxdb   {influx.url} org={creds.org} bucket={creds.bucket} token={creds.token}"
            )
        except ServiceError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo("all servers up; Ctrl-C stops them", err=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            click.echo("stopping...", err=True)


@group.command(name="up")
@click.option("--devices", type=click.IntRange(1, 500), default=20, show_default=True)
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Stop after this many seconds (default: run until Ctrl-C).",
)
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where configs, buffers, data and logs go (default: a new temporary directory).",
)
@click.option("--sample-hz", type=click.FloatRange(min=0, min_open=True), default=2.0)
@click.option("--workers", type=click.IntRange(1, 16), default=1, show_default=True)
@click.option(
    "--proxy",
    "force_proxy",
    is_flag=True,
    help="Put every device behind a fault proxy even when namespaces are available.",
)
def up_command(
    devices: int,
    duration: float | None,
    run_dir: Path | None,
    sample_hz: float,
    workers: int,
    force_proxy: bool,
) -> None:
    """Run the whole stack with a simulated fleet and show it live until Ctrl-C.

    Mosquitto (per-device credentials and ACL), Kafka, InfluxDB, the bridge, Faust workers,
    the API and one simulated edge agent per device, each its own process, each device in
    its own network namespace when running as root.
    """
    from lab.up import run_up

    try:
        run_up(
            devices=devices,
            duration_s=duration,
            run_dir=run_dir,
            sample_hz=sample_hz,
            workers=workers,
            use_namespaces=False if force_proxy else None,
            lab=_settings(),
        )
    except (ServiceError, FieldlinkError, OSError) as exc:
        raise click.ClickException(str(exc)) from None


@group.command(name="replay")
@click.argument("scenarios", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--all", "run_all", is_flag=True, help="Every scenario in lab/scenarios/.")
@click.option(
    "--short",
    "factor",
    type=click.FloatRange(0, 1, min_open=True),
    default=None,
    help="Scale every time in the scenario by this factor (CI runs 0.15).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Report directory (default: a new replay-<time> folder in the reports directory, "
    "FIELDLINK_REPORTS_DIR, which the dashboard of `fieldlink lab up` lists); one subfolder "
    "per scenario.",
)
@click.option(
    "--proxy",
    "force_proxy",
    is_flag=True,
    help="Inject every network fault with the user-space proxy, even as root.",
)
def replay_command(
    scenarios: tuple[Path, ...],
    run_all: bool,
    factor: float | None,
    out_dir: Path | None,
    force_proxy: bool,
) -> None:
    """Replay partition scenarios against the real stack and judge them.

    Exit status 0 only when every invariant of every scenario holds. Each run writes
    report.json and report.html (timelines with the fault windows shaded).
    """
    from lab.replay.cli import run_replays

    lab = _settings()
    paths = list(scenarios)
    if run_all:
        paths += sorted((Path(__file__).parent / "scenarios").glob("*.yaml"))
    if not paths:
        raise click.UsageError("name a scenario file or pass --all")
    try:
        ok = run_replays(
            paths,
            factor=factor,
            out_dir=out_dir or lab.new_report_dir("replay"),
            use_namespaces=False if force_proxy else None,
            lab=lab,
        )
    except (ServiceError, FieldlinkError, OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    if not ok:
        raise SystemExit(1)


@group.command(name="bench")
@click.option("--devices", type=click.IntRange(1, 500), default=20, show_default=True)
@click.option(
    "--rates",
    default="1,5,10,25,50",
    show_default=True,
    help="Sample rates per device (Hz) to step through, comma-separated.",
)
@click.option("--measure-s", type=click.FloatRange(10), default=60.0, show_default=True)
@click.option("--recovery-devices", type=click.IntRange(1, 500), default=50, show_default=True)
@click.option("--recovery-hz", type=click.FloatRange(0.1), default=10.0, show_default=True)
@click.option("--partition-s", type=click.FloatRange(10), default=600.0, show_default=True)
@click.option(
    "--drain-max-rate",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Backlog readings/s each agent publishes after the partition, beside live ones "
    "(default: the scenario fleet's, 200; the edge's own default is 5,000).",
)
@click.option("--throughput/--no-throughput", default=True)
@click.option("--recovery/--no-recovery", default=True)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where each run's report goes (default: a new bench-<time> folder in the reports "
    "directory, FIELDLINK_REPORTS_DIR).",
)
def bench_command(
    devices: int,
    rates: str,
    measure_s: float,
    recovery_devices: int,
    recovery_hz: float,
    partition_s: float,
    drain_max_rate: float | None,
    throughput: bool,
    recovery: bool,
    out_dir: Path | None,
) -> None:
    """End-to-end figures: readings/s to visible in InfluxDB at rising load (p50/p99 sample
    to queryable), and recovery after a whole-fleet partition (catch-up, live p99).

    The issue's sizes: --recovery-devices 50 --recovery-hz 10 --partition-s 600.
    """
    from lab.bench import run_bench

    lab = _settings()
    try:
        steps = [float(part) for part in rates.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter(
            f"not a list of numbers: {rates!r}", param_hint="--rates"
        ) from None
    try:
        run_bench(
            devices=devices,
            rates=steps,
            measure_s=measure_s,
            recovery_devices=recovery_devices,
            recovery_hz=recovery_hz,
            partition_s=partition_s,
            out_dir=out_dir or lab.new_report_dir("bench"),
            lab=lab,
            throughput=throughput,
            recovery=recovery,
            drain_max_rate=drain_max_rate,
        )
    except (ServiceError, FieldlinkError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
