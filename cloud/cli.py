"""``fieldlink cloud``: the Faust worker and the HTTP API."""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path

import click

from cloud.settings import CloudSettings
from fieldlink.errors import FieldlinkError
from fieldlink.messages import KafkaTopics

__all__ = ["group"]

logger = logging.getLogger(__name__)


def _settings(config: Path | None) -> CloudSettings:
    try:
        return CloudSettings.load(config)
    except FieldlinkError as exc:
        raise click.ClickException(str(exc)) from None


async def ensure_topics(settings: CloudSettings) -> list[str]:
    """Create the tier's Kafka topics that do not exist yet; return those created. Refuses
    input topics whose partition counts differ from ``settings.partitions``."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [t for t in KafkaTopics(settings.topic_prefix).all() if t not in existing]
        made = []
        for name in wanted:
            try:
                await admin.create_topics(
                    [NewTopic(name, num_partitions=settings.partitions, replication_factor=1)]
                )
            except TopicAlreadyExistsError:
                continue  # another worker starting at the same time made it
            made.append(name)
        topics = KafkaTopics(settings.topic_prefix)
        inputs = [*topics.telemetry_lanes(), topics.status]
        counts = {
            d["topic"]: len(d.get("partitions", [])) for d in await admin.describe_topics(inputs)
        }
        if set(counts.values()) != {settings.partitions}:
            # The state table is co-partitioned with every input: a device's records on any
            # of them must land in the same partition number, read by the same worker.
            found = ", ".join(f"{name} {counts.get(name, 0)}" for name in inputs)
            raise click.ClickException(
                f"the worker's input topics must each have {settings.partitions} partitions "
                f"(FIELDLINK_CLOUD_PARTITIONS); found {found}. Grow the others to match."
            )
        return made
    finally:
        await admin.close()


@click.group(name="cloud")
def group() -> None:
    """Faust processors, InfluxDB sink and API."""


_config = click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="TOML settings file (FIELDLINK_CLOUD_* environment variables override it).",
)


@group.command()
@_config
@click.option("--loglevel", default="info", show_default=True)
def worker(config: Path | None, loglevel: str) -> None:
    """Run a Faust worker: dedup, windows, alerts, InfluxDB sink."""
    import faust

    from cloud.app import create_app
    from cloud.sink import InfluxSink, SinkError

    settings = _settings(config)
    sink = InfluxSink(settings)
    try:
        sink.ensure_buckets()
        created = asyncio.run(ensure_topics(settings))
    except SinkError as exc:
        raise click.ClickException(str(exc)) from None
    if created:
        logger.info("created Kafka topics %s", ", ".join(created))
    app = create_app(settings, sink=sink)
    # The local RocksDB is rebuilt from the changelog on every start. Faust's at-least-once
    # recovery replays the changelog tail over the local files key by key, which can leave
    # one key older than another after a SIGKILL; a state rebuilt from the changelog alone
    # is always a prefix of what was written, which the pipeline's replay rule relies on.
    shutil.rmtree(app.conf.tabledir, ignore_errors=True)
    faust.Worker(app, loglevel=loglevel, quiet=True).execute_from_commandline()


@group.command()
@_config
def api(config: Path | None) -> None:
    """Serve the HTTP API (devices, alerts, pipeline health, /metrics)."""
    import uvicorn

    from cloud.api import create_api

    settings = _settings(config)
    uvicorn.run(create_api(settings), host=settings.api_host, port=settings.api_port)
