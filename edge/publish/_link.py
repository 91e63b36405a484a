"""The MQTT connection: paho-mqtt 2.x, MQTT v5, one persistent session per device.

A network thread owns the socket: it connects, runs paho's loop and reconnects with capped
exponential backoff and jitter. The agent's thread only calls :meth:`MqttLink.publish`
(paho's publish is thread-safe) and drains :attr:`acks` and :attr:`inbox`, so every
callback's effect is applied on the agent's thread.

QoS1 messages handed to paho stay in paho's session until PUBACKed: after a reconnect paho
re-sends them (with the DUP flag), so a PUBACK for every mid eventually arrives while this
process lives. If the process dies, the buffer still holds the readings and publishes them
again: duplicates, never loss.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from ..settings import MqttSettings
from ._pacing import Backoff

__all__ = ["Ack", "Incoming", "MqttLink"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Ack:
    mid: int
    ok: bool
    reason: str


@dataclass(frozen=True, slots=True)
class Incoming:
    topic: str
    payload: bytes


class MqttLink:
    """A persistent MQTT v5 session for one device.

    >>> link = MqttLink(MqttSettings(port=1883), client_id="pi-07",
    ...                 will=("fieldlink/lab/pi-07/status", b"{}"), subscriptions=[])
    >>> link.connected
    False
    """

    def __init__(
        self,
        settings: MqttSettings,
        *,
        client_id: str,
        will: tuple[str, bytes],
        subscriptions: Sequence[str],
        inflight: int = 16,
    ) -> None:
        self._settings = settings
        self._subscriptions = list(subscriptions)
        self.acks: queue.SimpleQueue[Ack] = queue.SimpleQueue()
        self.inbox: queue.SimpleQueue[Incoming] = queue.SimpleQueue()
        self._connects = 0
        self._connected = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._backoff = Backoff(settings.reconnect_min_s, settings.reconnect_max_s)
        self._ever_connected = False
        self.on_activity: Callable[[], None] = lambda: None
        """Called (on the network thread) after each ack or message: wakes the agent."""

        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
        )
        # Our own window bounds what we hand to paho; paho's limit is a backstop above it.
        client.max_inflight_messages_set(inflight + 8)
        client.max_queued_messages_set(0)
        topic, payload = will
        client.will_set(topic, payload, qos=1, retain=True)
        if settings.username is not None:
            client.username_pw_set(settings.username, settings.password)
        if settings.tls:
            client.tls_set(
                ca_certs=str(settings.ca_file) if settings.ca_file else None,
                certfile=str(settings.cert_file) if settings.cert_file else None,
                keyfile=str(settings.key_file) if settings.key_file else None,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        self._client = client

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def reconnects(self) -> int:
        """Successful connections after the first one."""
        return max(0, self._connects - 1)

    @property
    def connects(self) -> int:
        return self._connects

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="mqtt-link", daemon=True)
        self._thread.start()

    def stop(self, final: tuple[str, bytes] | None = None, timeout_s: float = 2.0) -> None:
        """Publish ``final`` (topic, payload) if connected, disconnect cleanly, join."""
        if final is not None and self.connected:
            info = self._client.publish(final[0], final[1], qos=1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout_s)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s + 5)
        with contextlib.suppress(Exception):
            self._client.disconnect()

    def _run(self) -> None:
        client = self._client
        while not self._stop.is_set():
            if not self._socket_open() and not self._connect():
                self._stop.wait(self._backoff.next())
                continue
            # Publishes from the agent thread write to the socket directly and wake select();
            # the timeout only paces keepalive checks and how fast stop() is noticed.
            rc = client.loop(timeout=0.5)
            if rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_AGAIN):
                self._connected.clear()
                self._stop.wait(self._backoff.next())

    def _socket_open(self) -> bool:
        return self._client.socket() is not None

    def _connect(self) -> bool:
        s = self._settings
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = s.session_expiry_s
        try:
            if self._ever_connected:
                self._client.reconnect()
            else:
                self._client.connect(
                    s.host, s.port, s.keepalive_s, clean_start=False, properties=properties
                )
                self._ever_connected = True
        except (OSError, ssl.SSLError) as exc:
            logger.debug("mqtt connect to %s:%s failed: %s", s.host, s.port, exc)
            return False
        return True

    # -- callbacks (network thread) ------------------------------------------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            logger.warning("mqtt broker refused the connection: %s", reason)
            return
        for topic in self._subscriptions:
            client.subscribe(topic, qos=1)
        self._backoff.reset()
        self._connects += 1
        self._connected.set()
        logger.info(
            "mqtt connected to %s:%s (session present: %s)",
            self._settings.host,
            self._settings.port,
            flags.session_present,
        )

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if self._connected.is_set():
            logger.warning("mqtt disconnected: %s", reason)
        self._connected.clear()

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self.acks.put(Ack(mid, not reason.is_failure, str(reason)))
        self.on_activity()

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        self.inbox.put(Incoming(message.topic, bytes(message.payload)))
        self.on_activity()

    # -- agent thread --------------------------------------------------------------------

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> int:
        """Hand a QoS1 message to the session; returns its mid (acknowledged via :attr:`acks`).

        Safe while disconnected: paho queues it and sends it after the reconnect.
        """
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            raise OSError(f"mqtt publish refused: {mqtt.error_string(info.rc)}")
        return info.mid
