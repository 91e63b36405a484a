"""paho-mqtt driven by the asyncio loop: messages in, acks and downlinks out, one thread.

paho-mqtt 2.x with ``manual_ack=True`` sends no PUBACK until :meth:`MqttLink.ack` is called:
that is what lets the bridge acknowledge a message only after Kafka acknowledged it. The
session is persistent (fixed client id, clean start off, long expiry), so whatever was not
acknowledged when the bridge died is redelivered by Mosquitto when it comes back.

paho runs on the event loop through its socket callbacks (``add_reader``/``add_writer``)
rather than in its own network thread: an ack is then a queued packet written in bulk, not
a wake-up of another thread fighting for the GIL (that cost half the throughput).

An acknowledgement belongs to the connection that delivered the message: after a reconnect
Mosquitto resends unacknowledged messages with the same packet ids, so a late ack from the
old connection is skipped (the redelivered copy gets produced and acked). Duplicates, never
loss.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from broker.errors import BrokerError

from .settings import BridgeSettings

__all__ = ["Inbound", "MqttLink", "MqttLinkError"]

logger = logging.getLogger(__name__)


class MqttLinkError(BrokerError, ConnectionError):
    """The broker refused the bridge (bad credentials, not authorised) or a publish failed."""


@dataclass(frozen=True, slots=True)
class Inbound:
    """One message as Mosquitto delivered it. ``generation`` numbers the connection."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    generation: int


def make_client(settings: BridgeSettings) -> mqtt.Client:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=settings.mqtt_client_id,
        protocol=mqtt.MQTTv5,
        manual_ack=True,
    )
    if settings.mqtt_username:
        password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
        client.username_pw_set(settings.mqtt_username, password)
    if settings.mqtt_tls_ca is not None:
        client.tls_set(
            ca_certs=str(settings.mqtt_tls_ca),
            certfile=str(settings.mqtt_tls_cert) if settings.mqtt_tls_cert else None,
            keyfile=str(settings.mqtt_tls_key) if settings.mqtt_tls_key else None,
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
    client.max_inflight_messages_set(1000)
    return client


class MqttLink:
    """The bridge's one MQTT connection: subscriptions in, acks and downlinks out.

    ``on_messages`` receives, in the loop, the messages read in one burst (batched so the
    pipeline is woken once per burst, not once per message).
    """

    def __init__(
        self,
        settings: BridgeSettings,
        *,
        subscriptions: list[str],
        on_messages: Callable[[list[Inbound]], None],
        loop: asyncio.AbstractEventLoop,
        client: mqtt.Client | None = None,
        reconnect_max_s: float = 5.0,
    ):
        self.settings = settings
        self.subscriptions = subscriptions
        self.on_messages = on_messages
        self.loop = loop
        self.client = client or make_client(settings)
        self.reconnect_max_s = reconnect_max_s
        self.generation = 0
        self._pending: list[Inbound] = []
        self._published: dict[int, asyncio.Future[None]] = {}
        self._subscribed = asyncio.Event()
        self._refused: MqttLinkError | None = None
        self._events = 0
        self._stopping = False
        self._misc: asyncio.Task[None] | None = None
        self._reconnecting: asyncio.Task[None] | None = None
        client = self.client
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        client.on_disconnect = self._on_disconnect
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_register_write
        client.on_socket_unregister_write = self._on_unregister_write

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self, wait_s: float = 30.0) -> None:
        """Connect, subscribe, and return once the broker granted the subscriptions."""
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho: unannotated
        props.SessionExpiryInterval = self.settings.mqtt_session_expiry_s
        props.ReceiveMaximum = self.settings.mqtt_receive_maximum
        where = f"{self.settings.mqtt_host}:{self.settings.mqtt_port}"
        deadline = self.loop.time() + wait_s
        while True:
            try:
                self.client.connect(
                    self.settings.mqtt_host,
                    self.settings.mqtt_port,
                    keepalive=30,
                    clean_start=False,
                    properties=props,
                )
                break
            except OSError as exc:
                if self.loop.time() > deadline:
                    raise MqttLinkError(f"cannot connect to MQTT at {where}: {exc}") from exc
                logger.warning("MQTT %s unreachable (%s); retrying", where, exc)
                await asyncio.sleep(1)
        self._misc = asyncio.create_task(self._misc_loop(), name="mqtt-misc")
        try:
            await asyncio.wait_for(self._subscribed.wait(), max(deadline - self.loop.time(), 1))
        except TimeoutError:
            self.stop()
            raise MqttLinkError(
                f"no subscription granted by {where} within {wait_s:.0f}s"
            ) from None
        if self._refused is not None:
            self.stop()
            raise self._refused

    def stop(self) -> None:
        self._stopping = True
        for task in (self._misc, self._reconnecting):
            if task is not None:
                task.cancel()
        if self.client.socket() is not None:
            self.client.disconnect()
            self.client.loop_write()  # flush the DISCONNECT now; the loop may be ending

    async def _misc_loop(self) -> None:
        while True:
            await asyncio.sleep(1)
            self.client.loop_misc()  # keepalive pings, timeouts

    async def _reconnect(self) -> None:
        delay = 0.2
        while not self._stopping:
            await asyncio.sleep(delay)
            try:
                self.client.reconnect()
            except OSError as exc:
                logger.warning("MQTT reconnect failed (%s); retrying", exc)
                delay = min(delay * 2, self.reconnect_max_s)
            else:
                return

    # -- acks and downlinks -----------------------------------------------------------------
    def ack(self, message: Inbound) -> bool:
        """PUBACK ``message`` if its connection is still the current one."""
        if message.generation != self.generation or self.client.socket() is None:
            return False
        self.client.ack(message.mid, message.qos)
        return True

    async def publish(self, topic: str, payload: bytes) -> None:
        """Publish QoS1 and wait for the broker's PUBACK (paho resends across reconnects)."""
        info = self.client.publish(topic, payload, qos=1)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            raise MqttLinkError(f"publish to {topic} failed: {mqtt.error_string(info.rc)}")
        # Single-threaded: the PUBACK cannot have been handled before we register.
        future: asyncio.Future[None] = self.loop.create_future()
        self._published[info.mid] = future
        await future

    # -- socket plumbing --------------------------------------------------------------------
    def _on_socket_open(self, client: mqtt.Client, userdata: object, sock: Any) -> None:
        self.loop.add_reader(sock, self._on_readable)

    def _on_socket_close(self, client: mqtt.Client, userdata: object, sock: Any) -> None:
        self.loop.remove_reader(sock)
        self.loop.remove_writer(sock)

    def _on_register_write(self, client: mqtt.Client, userdata: object, sock: Any) -> None:
        self.loop.add_writer(sock, client.loop_write)

    def _on_unregister_write(self, client: mqtt.Client, userdata: object, sock: Any) -> None:
        self.loop.remove_writer(sock)

    def _on_readable(self) -> None:
        # paho reads one packet per call here; keep reading while packets keep coming.
        for _ in range(512):
            before = self._events
            if self.client.loop_read() != MQTTErrorCode.MQTT_ERR_SUCCESS:
                break
            sock = self.client.socket()
            pending = getattr(sock, "pending", None)
            if self._events == before and not (pending and pending()):
                break
        if self._pending:
            batch, self._pending = self._pending, []
            self.on_messages(batch)

    # -- paho callbacks (all in the loop) ---------------------------------------------------
    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            logger.error("MQTT connection refused: %s", reason)
            self._refused = MqttLinkError(f"MQTT connection refused: {reason}")
            self._subscribed.set()
            return
        self.generation += 1
        logger.info(
            "MQTT connected (session present: %s, generation %d)",
            flags.session_present,
            self.generation,
        )
        client.subscribe([(topic, 1) for topic in self.subscriptions])

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        refused = [str(code) for code in reasons if code.is_failure]
        if refused:
            self._refused = MqttLinkError(f"subscriptions refused: {', '.join(refused)}")
            logger.error("MQTT %s", self._refused)
        self._subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        self._events += 1
        self._pending.append(
            Inbound(msg.topic, bytes(msg.payload), msg.mid, msg.qos, self.generation)
        )

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._events += 1
        future = self._published.pop(mid, None)
        if future is not None and not future.done():
            future.set_result(None)

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if self._stopping:
            return
        logger.warning("MQTT disconnected (%s); reconnecting", reason)
        if self._reconnecting is None or self._reconnecting.done():
            self._reconnecting = asyncio.create_task(self._reconnect(), name="mqtt-reconnect")
