"""paho-mqtt in its network thread, handing messages to asyncio and taking acks back.

paho-mqtt 2.x with ``manual_ack=True`` sends no PUBACK until :meth:`MqttLink.ack` is called:
that is what lets the bridge acknowledge a message only after Kafka acknowledged it. The
session is persistent (fixed client id, clean start off, long expiry), so whatever was not
acknowledged when the bridge died is redelivered by Mosquitto when it comes back.

An acknowledgement belongs to the connection that delivered the message: after a reconnect
Mosquitto resends unacknowledged messages with the same packet ids, so a late ack from the
old connection is skipped (the redelivered copy gets produced and acked). Duplicates, never
loss.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass

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
    client.reconnect_delay_set(min_delay=1, max_delay=5)
    client.max_inflight_messages_set(1000)
    return client


class MqttLink:
    """The bridge's one MQTT connection: subscriptions in, acks and downlinks out.

    ``on_messages`` runs in the asyncio loop with the messages that arrived since it last
    ran (batched so a burst costs one loop wake-up, not one per message).
    """

    def __init__(
        self,
        settings: BridgeSettings,
        *,
        subscriptions: list[str],
        on_messages: Callable[[list[Inbound]], None],
        loop: asyncio.AbstractEventLoop,
        client: mqtt.Client | None = None,
    ):
        self.settings = settings
        self.subscriptions = subscriptions
        self.on_messages = on_messages
        self.loop = loop
        self.client = client or make_client(settings)
        self.generation = 0
        self._pending: list[Inbound] = []
        self._lock = threading.Lock()
        self._publish_lock = threading.Lock()
        self._published: dict[int, asyncio.Future[None]] = {}
        self._subscribed = asyncio.Event()
        self._refused: MqttLinkError | None = None
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.on_publish = self._on_publish
        self.client.on_disconnect = self._on_disconnect

    # -- lifecycle (asyncio side) -----------------------------------------------------------
    async def start(self, wait_s: float = 30.0) -> None:
        """Connect, subscribe, and return once the broker granted the subscriptions."""
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho: unannotated
        props.SessionExpiryInterval = self.settings.mqtt_session_expiry_s
        props.ReceiveMaximum = self.settings.mqtt_receive_maximum
        self.client.connect_async(
            self.settings.mqtt_host,
            self.settings.mqtt_port,
            keepalive=30,
            clean_start=False,
            properties=props,
        )
        self.client.loop_start()
        try:
            await asyncio.wait_for(self._subscribed.wait(), wait_s)
        except TimeoutError:
            self.stop()
            raise MqttLinkError(
                f"no subscription granted by {self.settings.mqtt_host}:{self.settings.mqtt_port} "
                f"within {wait_s:.0f}s"
            ) from None
        if self._refused is not None:
            self.stop()
            raise self._refused

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    # -- acks and downlinks (asyncio side) ------------------------------------------------
    def ack(self, message: Inbound) -> bool:
        """PUBACK ``message`` if its connection is still the current one."""
        if message.generation != self.generation:
            return False
        self.client.ack(message.mid, message.qos)
        return True

    async def publish(self, topic: str, payload: bytes) -> None:
        """Publish QoS1 and wait for the broker's PUBACK (paho resends across reconnects)."""
        future: asyncio.Future[None] = self.loop.create_future()
        with self._publish_lock:
            info = self.client.publish(topic, payload, qos=1)
            if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
                raise MqttLinkError(f"publish to {topic} failed: {mqtt.error_string(info.rc)}")
            if info.is_published():
                return
            self._published[info.mid] = future
        await future

    # -- paho callbacks (network thread) ---------------------------------------------------
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
            client.disconnect()
            self.loop.call_soon_threadsafe(self._subscribed.set)
            return
        with self._lock:
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
        self.loop.call_soon_threadsafe(self._subscribed.set)

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        inbound = Inbound(msg.topic, bytes(msg.payload), msg.mid, msg.qos, self.generation)
        with self._lock:
            wake = not self._pending
            self._pending.append(inbound)
        if wake:
            self.loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
        if batch:
            self.on_messages(batch)

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self._publish_lock:
            future = self._published.pop(mid, None)
        if future is not None:
            self.loop.call_soon_threadsafe(_resolve, future)

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            logger.warning("MQTT disconnected (%s); reconnecting", reason)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
