"""Reading what the workers stored (InfluxDB) and how far behind they are (Kafka)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from influxdb_client.client.influxdb_client import InfluxDBClient

from cloud.settings import CloudSettings
from fieldlink.errors import FieldlinkError
from fieldlink.messages import KafkaTopics

__all__ = ["Reader", "UpstreamError"]


class UpstreamError(FieldlinkError, ConnectionError):
    """InfluxDB or Kafka could not answer; the API says 503 with this reason."""


class Reader:
    """Queries for the API. Parameters reaching Flux were validated as plain names."""

    def __init__(self, settings: CloudSettings, *, clock: Any = time.time_ns):
        self.settings = settings
        self.clock = clock

    async def _flux(self, flux: str) -> list[dict[str, Any]]:
        # The async client's CSV parsing needs aiocsv; the sync client in a thread does not.
        try:
            return await asyncio.to_thread(self._flux_sync, flux)
        except Exception as exc:
            raise UpstreamError(f"InfluxDB query failed: {type(exc).__name__}: {exc}") from exc

    def _flux_sync(self, flux: str) -> list[dict[str, Any]]:
        s = self.settings
        with InfluxDBClient(
            url=s.influx_url, token=s.influx_token, org=s.influx_org, timeout=10_000
        ) as client:
            tables = client.query_api().query(flux)
        return [record.values for table in tables for record in table.records]

    def _bucket(self, kind: str) -> str:
        return self.settings.bucket(kind)

    async def devices(self, site: str | None, limit: int) -> list[dict[str, Any]]:
        site_filter = f' and r.site == "{site}"' if site else ""
        rows = await self._flux(
            f'from(bucket: "{self._bucket("pipeline")}") |> range(start: -30d) '
            f'|> filter(fn: (r) => (r._measurement == "device" or '
            f'r._measurement == "device_status"){site_filter}) |> last()'
        )
        devices: dict[str, dict[str, Any]] = {}
        for row in rows:
            entry = devices.setdefault(
                row["device"], {"device": row["device"], "site": row["site"]}
            )
            entry[f"{row['_measurement']}.{row['_field']}"] = row["_value"]
        deadman = self.settings.alerts.deadman
        silent_ns = int((deadman.silent_s if deadman else 60) * 1e9)
        now = self.clock()
        out = []
        for name in sorted(devices)[:limit]:
            e = devices[name]
            seen = max(e.get("device.seen_ns", 0), e.get("device_status.seen_ns", 0))
            out.append(
                {
                    "device": name,
                    "site": e["site"],
                    "last_seen_ns": seen or None,
                    "online": bool(seen)
                    and now - seen < silent_ns
                    and e.get("device_status.online", True) is not False,
                    "backlog": e.get("device_status.buffer_depth", 0),
                    "missing": e.get("device.missing", 0),
                }
            )
        return out

    async def alerts(self, state: str, device: str | None, since_s: int, limit: int) -> list[Any]:
        device_filter = f' and r.device == "{device}"' if device else ""
        rows = await self._flux(
            f'from(bucket: "{self._bucket("events")}") |> range(start: -{since_s}s) '
            f'|> filter(fn: (r) => r._measurement == "alert" and r._field == "alert_id"'
            f"{device_filter}) |> group() "
            '|> sort(columns: ["_time"])'
        )
        episodes: dict[str, dict[str, Any]] = {}
        for row in rows:
            episode = episodes.setdefault(
                row["_value"],
                {
                    "alert_id": row["_value"],
                    "rule": row["rule"],
                    "device": row["device"],
                    "site": row["site"],
                    "sensor": row.get("sensor"),
                },
            )
            episode[f"{row['state']}_at"] = row["_time"].isoformat()
            episode["state"] = "open" if "close_at" not in episode else "closed"
        found = list(episodes.values())
        if state == "open":
            found = [e for e in found if e["state"] == "open"]
        return found[-limit:]

    async def workers(self) -> list[dict[str, Any]]:
        rows = await self._flux(
            f'from(bucket: "{self._bucket("pipeline")}") |> range(start: -1h) '
            '|> filter(fn: (r) => r._measurement == "worker") |> last()'
        )
        workers: dict[str, dict[str, Any]] = {}
        for row in rows:
            workers.setdefault(row["worker"], {"worker": row["worker"]})[row["_field"]] = row[
                "_value"
            ]
        return [workers[w] for w in sorted(workers)]

    async def _committed(self, admin: Any) -> dict[Any, Any]:
        from aiokafka.errors import CoordinatorNotAvailableError

        for attempt in range(10):
            try:
                result: dict[Any, Any] = await admin.list_consumer_group_offsets(
                    self.settings.app_id
                )
            except CoordinatorNotAvailableError:
                # Kafka creates __consumer_offsets on first use; give it a moment.
                if attempt == 9:
                    raise
                await asyncio.sleep(0.5)
            else:
                return result
        return {}

    async def consumer_lag(self) -> dict[str, int]:
        """Records of the telemetry lanes (live and backlog) not yet committed by the worker
        group, by partition (the two lanes' partitions hold the same devices)."""
        from aiokafka import AIOKafkaConsumer, TopicPartition
        from aiokafka.admin import AIOKafkaAdminClient

        s = self.settings
        lanes = KafkaTopics(s.topic_prefix).telemetry_lanes()
        admin = AIOKafkaAdminClient(bootstrap_servers=s.kafka_bootstrap, request_timeout_ms=5000)
        consumer = AIOKafkaConsumer(bootstrap_servers=s.kafka_bootstrap, request_timeout_ms=5000)
        try:
            await admin.start()
            await consumer.start()
            committed = await self._committed(admin)
            described = await admin.describe_topics(list(lanes))
            tps = sorted(
                TopicPartition(d["topic"], p["partition"])
                for d in described
                if d.get("topic") in lanes
                for p in d.get("partitions", [])
            )
            ends = await consumer.end_offsets(tps) if tps else {}
        except Exception as exc:
            raise UpstreamError(f"Kafka lag query failed: {type(exc).__name__}: {exc}") from exc
        finally:
            await consumer.stop()
            await admin.close()
        lag: dict[str, int] = {}
        for tp, end in ends.items():
            meta = committed.get(tp)
            done = meta.offset if meta is not None and meta.offset >= 0 else 0
            lag[str(tp.partition)] = lag.get(str(tp.partition), 0) + max(end - done, 0)
        return lag
