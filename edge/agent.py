"""The edge agent: sample sensors, commit to the buffer, publish, obey the cloud.

One thread does all the work in a loop (sampling, buffer, publisher, commands); the MQTT
network thread and gpiozero's threads only hand it events through queues. That keeps the
SQLite connection on one thread and makes the loop easy to reason about.

>>> from edge.settings import EdgeSettings                       # doctest: +SKIP
>>> agent = Agent.build(EdgeSettings.load("edge.toml"), simulate=True)  # doctest: +SKIP
>>> agent.run()                                                 # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Self

from gpiozero.pins import Factory
from gpiozero.pins.mock import MockFactory

from fieldlink import __version__
from fieldlink.errors import DecodeError
from fieldlink.messages import (
    Alert,
    AlertState,
    Channel,
    ClockState,
    Command,
    DeviceStatus,
    DriveOutput,
    RequestStatus,
    SetSampleRate,
    decode,
    encode,
    mqtt_topic,
)

from . import metrics
from .buffer import Buffer, SqliteBuffer
from .cap_override import CapOverride
from .clock import Clock, SimulatedClock, SyncTracker, SystemClock, TrustedClock
from .outputs import Outputs
from .publish import Incoming, MqttLink, Publisher
from .sampling import Sampler
from .sdnotify import Notifier
from .sensors import Driver, SimFactory, Simulator, build_driver
from .settings import EdgeSettings

__all__ = ["Agent"]

logger = logging.getLogger(__name__)

_EXPIRE_EVERY_S = 10.0
_WATCHDOG_EVERY_S = 1.0
_CAP_POLL_EVERY_S = 1.0
_MAX_SLEEP_S = 0.05
"""Longest the loop sleeps: bounds commit, linger and status timing; acks wake it sooner."""


class Agent:
    """Everything one device runs, wired together; see :meth:`build` for the defaults."""

    def __init__(
        self,
        settings: EdgeSettings,
        *,
        buffer: Buffer,
        link: MqttLink,
        drivers: list[Driver],
        clock: Clock,
        outputs: Outputs,
        simulator: Simulator | None = None,
        notifier: Notifier | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.buffer = buffer
        self.link = link
        self.clock = clock
        self.outputs = outputs
        self.simulator = simulator
        self.notifier = notifier or Notifier()
        self._monotonic = monotonic
        self._drivers = drivers
        self._stop = threading.Event()
        self._wake = threading.Event()
        link.on_activity = self._wake.set
        self._start_s = monotonic()
        self.publisher = Publisher(
            buffer, link, site=settings.site, settings=settings.publish, monotonic=monotonic
        )
        self.sampler = Sampler(
            drivers,
            device=settings.device,
            clock=clock,
            first_seq=buffer.next_seq,
            start_s=self._start_s,
            before_read=simulator.drive if simulator is not None else None,
        )
        self._sync = SyncTracker(clock)
        self._status_topic = mqtt_topic(settings.site, settings.device, Channel.STATUS)
        self._last_seq: int | None = buffer.next_seq - 1 if buffer.next_seq else None
        self.bad_messages = 0
        self._connects_seen = 0
        b = settings.buffer
        self.cap_override = (
            None
            if b.cap_override_path is None
            else CapOverride(b.cap_override_path, default=b.max_bytes)
        )

    @classmethod
    def build(
        cls,
        settings: EdgeSettings,
        *,
        simulate: bool = False,
        pin_factory: Factory | None = None,
        clock: Clock | None = None,
    ) -> Self:
        """The agent with its production parts: SQLite buffer, MQTT link, gpiozero drivers
        (on ``MockFactory`` with waveforms when ``simulate``)."""
        b = settings.buffer
        buffer = SqliteBuffer(
            b.path,
            device=settings.device,
            max_bytes=b.max_bytes,
            max_age_s=b.max_age_s,
            durability_ms=b.durability_ms,
            record=simulate and settings.simulation_record,
        )
        if settings.simulation_record and not simulate:
            logger.warning("simulation_record ignored: the agent is not simulating")
        if clock is None:
            if simulate and settings.simulated_unsynced_s:
                clock = SimulatedClock(settings.simulated_unsynced_s)
            elif settings.clock == "trusted":
                clock = TrustedClock()
            else:
                clock = SystemClock()
        simulator = None
        if simulate:
            factory = pin_factory if isinstance(pin_factory, MockFactory) else SimFactory()
            simulator = Simulator(
                settings.sensors, factory, seed=settings.simulation_seed, device=settings.device
            )
            drivers = simulator.drivers
            pin_factory = factory
        else:
            drivers = [build_driver(config, pin_factory) for config in settings.sensors]
        site, device = settings.site, settings.device
        offline = DeviceStatus(
            device=device, site=site, boot_id=buffer.boot_id, ts_ns=clock.wall_ns(), online=False
        )
        link = MqttLink(
            settings.mqtt,
            client_id=device,
            will=(mqtt_topic(site, device, Channel.STATUS), encode(offline)),
            subscriptions=[
                mqtt_topic(site, device, Channel.COMMANDS),
                mqtt_topic(site, device, Channel.ALERTS),
            ],
            inflight=settings.publish.inflight,
        )
        outputs = Outputs(settings.outputs, pin_factory=pin_factory)
        return cls(
            settings,
            buffer=buffer,
            link=link,
            drivers=drivers,
            clock=clock,
            outputs=outputs,
            simulator=simulator,
            notifier=Notifier(from_env=True),
        )

    # -- running -------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask :meth:`run` to finish (thread- and signal-safe)."""
        self._stop.set()
        self._wake.set()

    def run(self) -> None:
        """Run until :meth:`stop`; then drain briefly, report offline and close."""
        self.link.start()
        self.notifier.notify("READY=1")
        logger.info(
            "agent %s up: %d sensors, boot %s, next seq %d",
            self.settings.device,
            len(self._drivers),
            self.buffer.boot_id,
            self.buffer.next_seq,
        )
        now = self._monotonic()
        next_status = now
        next_expire = now + _EXPIRE_EVERY_S
        next_watchdog = now
        next_cap_poll = now
        try:
            while not self._stop.is_set():
                now = self._monotonic()
                self._turn(now)
                if now >= next_status:
                    next_status = now + self.settings.publish.status_interval_s
                    self.publish_status()
                if now >= next_expire:
                    next_expire = now + _EXPIRE_EVERY_S
                    if self._sync.synced:
                        self.buffer.expire(self.clock.wall_ns())
                if now >= next_cap_poll:
                    next_cap_poll = now + _CAP_POLL_EVERY_S
                    self.poll_cap_override()
                if now >= next_watchdog:
                    next_watchdog = now + _WATCHDOG_EVERY_S
                    self.notifier.notify("WATCHDOG=1")
                sleep = min(_MAX_SLEEP_S, self.sampler.next_due_s() - self._monotonic())
                if sleep > 0:
                    self._wake.wait(sleep)
                    self._wake.clear()
        finally:
            self._shutdown()

    def _turn(self, now: float) -> None:
        readings = self.sampler.sample(now)
        if readings:
            self.buffer.append(readings)
            self._last_seq = readings[-1].seq
        self.buffer.maybe_commit()
        offset = self._sync.poll()
        if offset is not None:
            restamped = self.buffer.restamp(offset)
            logger.info("re-stamped %d readings sampled before clock sync", restamped)
            self.publisher.rewind()
        self._handle_acks()
        self._handle_inbox()
        if self.link.connects != self._connects_seen and self.link.connected:
            self._connects_seen = self.link.connects
            self.publish_status()  # replaces the retained last will from a previous outage
        self.publisher.pump()

    def poll_cap_override(self) -> None:
        """Apply a changed ``buffer.cap_override_path`` file (see :mod:`edge.cap_override`)."""
        if self.cap_override is None:
            return
        cap = self.cap_override.poll()
        if cap is not None:
            self.buffer.set_max_bytes(cap)

    def _handle_acks(self) -> None:
        acks = self.link.acks
        while not acks.empty():
            self.publisher.handle_ack(acks.get_nowait())

    def _handle_inbox(self) -> None:
        inbox = self.link.inbox
        while not inbox.empty():
            self._handle_message(inbox.get_nowait())

    def _handle_message(self, message: Incoming) -> None:
        try:
            decoded = decode(message.payload)
        except DecodeError as exc:
            self.bad_messages += 1
            logger.warning("ignored a message on %s: %s", message.topic, exc)
            return
        if decoded.device != self.settings.device or not isinstance(decoded, Alert | Command):
            self.bad_messages += 1
            logger.warning("ignored a %s on %s", type(decoded).__name__, message.topic)
            return
        if isinstance(decoded, Alert):
            self.outputs.alert(
                decoded.rule, decoded.alert_id, opened=decoded.state is AlertState.OPEN
            )
            return
        body = decoded.body
        if isinstance(body, SetSampleRate):
            if self.sampler.set_rate(body.sensor, body.hz):
                logger.info("sample rate of %s set to %s Hz", body.sensor, body.hz)
            else:
                logger.warning("command %s: no sensor %r", decoded.command_id, body.sensor)
        elif isinstance(body, RequestStatus):
            self.publish_status()
        elif isinstance(body, DriveOutput) and not self.outputs.drive(body.output, body.state):
            logger.warning("command %s: no output %r", decoded.command_id, body.output)

    # -- status --------------------------------------------------------------------------

    def status(self, *, online: bool = True) -> DeviceStatus:
        stats = self.buffer.stats()
        now_ns = self.clock.wall_ns()
        age = None
        if stats.oldest_ts_ns is not None and self._sync.synced:
            age = max(0.0, (now_ns - stats.oldest_ts_ns) / 1e9)
        return DeviceStatus(
            device=self.settings.device,
            site=self.settings.site,
            boot_id=self.buffer.boot_id,
            ts_ns=now_ns,
            online=online,
            buffer_depth=stats.depth,
            buffer_bytes=stats.bytes,
            oldest_buffered_age_s=age,
            last_seq=self._last_seq,
            dropped=dict(stats.dropped),
            publish_rate=self.publisher.publish_rate(),
            reconnects=self.link.reconnects,
            clock=ClockState(synced=self._sync.synced, unsynced_readings=stats.unsynced),
            agent_version=__version__,
        )

    def publish_status(self, *, online: bool = True) -> DeviceStatus:
        status = self.status(online=online)
        if self.link.connected:
            self.link.publish(self._status_topic, encode(status), retain=True)
        if self.settings.metrics_file is not None:
            metrics.write_atomically(self.settings.metrics_file, self.metrics_text(status))
        return status

    def metrics_text(self, status: DeviceStatus) -> str:
        p = self.publisher
        stats = self.buffer.stats()
        return metrics.render(
            {
                "fieldlink_edge_buffer_depth": (status.buffer_depth, "gauge", "Readings buffered."),
                "fieldlink_edge_buffer_bytes": (status.buffer_bytes, "gauge", "Bytes buffered."),
                "fieldlink_edge_buffer_max_bytes": (
                    stats.max_bytes,
                    "gauge",
                    "Byte cap in force (the setting, or the cap override file).",
                ),
                "fieldlink_edge_buffer_in_flight": (
                    stats.in_flight,
                    "gauge",
                    "Buffered readings in flight (published, not yet acknowledged): never dropped.",
                ),
                "fieldlink_edge_bad_cap_overrides_total": (
                    0 if self.cap_override is None else self.cap_override.bad_reads,
                    "counter",
                    "Polls of the cap override file that could not be read or parsed.",
                ),
                "fieldlink_edge_dropped_total": (
                    {k.value: v for k, v in status.dropped.items()},
                    "counter",
                    "Readings the buffer discarded, by reason.",
                ),
                "fieldlink_edge_published_readings_total": (
                    p.acked_readings,
                    "counter",
                    "Readings acknowledged by the broker.",
                ),
                "fieldlink_edge_rejected_messages_total": (
                    p.rejected_messages,
                    "counter",
                    "Batches the broker refused.",
                ),
                "fieldlink_edge_reconnects_total": (status.reconnects, "counter", "Reconnects."),
                "fieldlink_edge_sensor_errors_total": (
                    self.sampler.sensor_errors,
                    "counter",
                    "Failed sensor reads.",
                ),
                "fieldlink_edge_bad_messages_total": (
                    self.bad_messages,
                    "counter",
                    "Undecodable or misaddressed commands and alerts.",
                ),
            }
        )

    # -- stopping ------------------------------------------------------------------------

    def _shutdown(self) -> None:
        self.notifier.notify("STOPPING=1")
        deadline = self._monotonic() + self.settings.shutdown_drain_s
        self.buffer.commit()
        while self._monotonic() < deadline and self.link.connected:
            self._handle_acks()
            self.publisher.pump()
            idle = self.publisher.inflight_messages == 0 and self.publisher.backlog_done
            if idle and not self.buffer.take(1, after=-1):
                break
            time.sleep(0.01)
        self._handle_acks()
        final = self.status(online=False)
        self.link.stop(final=(self._status_topic, encode(final)))
        self.buffer.close()
        self.outputs.close()
        if self.simulator is not None:
            self.simulator.close()
        else:
            for driver in self._drivers:
                driver.close()
        logger.info("agent %s stopped", self.settings.device)
