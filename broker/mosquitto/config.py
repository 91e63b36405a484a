"""Mosquitto configuration for the lab and for production, rendered from one typed object.

Decisions the templates encode:

- ``allow_anonymous false`` with a password file and an ACL file (see :mod:`.credentials`,
  :mod:`.acl`).
- QoS1 is never dropped silently. Mosquitto's default ``max_queued_messages 1000`` discards
  messages for a subscriber that falls behind (the bridge during a Kafka outage). We lift the
  count limit (0 = none) and bound only the bytes, sized to the host's memory; if that bound is
  ever hit Mosquitto logs "Outgoing messages are being dropped" at notice level, which the
  templates keep, and counts them in ``$SYS/broker/publish/messages/dropped``.
- Persistence on with a short autosave: a graceful restart loses nothing; after a hard crash
  of Mosquitto itself, what arrived since the last save is gone (Mosquitto has no per-message
  fsync), so production saves every 10 s and the lab every second.
- ``max_packet_size`` bounds what a device can send; the bridge still checks a smaller
  payload limit and dead-letters oversized payloads with a reason.
- A TLS listener for devices; the plain listener of production binds loopback only (the bridge
  and local tools).

>>> cfg = BrokerConfig(password_file=Path("/etc/fieldlink/passwd"),
...                    acl_file=Path("/etc/fieldlink/acl"))
>>> "allow_anonymous false" in cfg.render_options()
True
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

__all__ = ["BrokerConfig", "Profile", "TlsListener", "render_mosquitto_conf"]


class Profile(StrEnum):
    LAB = "lab"
    PRODUCTION = "production"


@dataclass(frozen=True, kw_only=True, slots=True)
class TlsListener:
    """A TLS listener. With ``require_certificate`` a client must present a certificate
    signed by ``cafile``; with ``use_identity_as_username`` its common name becomes its
    username (no password needed, ACL patterns apply to it)."""

    port: int = 8883
    host: str = "0.0.0.0"  # noqa: S104 - devices connect from the field network
    cafile: Path
    certfile: Path
    keyfile: Path
    require_certificate: bool = False
    use_identity_as_username: bool = False
    min_tls_version: str = "tlsv1.2"

    def render(self) -> str:
        lines = [
            f"listener {self.port} {self.host}",
            f"cafile {self.cafile}",
            f"certfile {self.certfile}",
            f"keyfile {self.keyfile}",
            f"tls_version {self.min_tls_version}",
            f"require_certificate {str(self.require_certificate).lower()}",
        ]
        if self.use_identity_as_username:
            lines.append("use_identity_as_username true")
        return "\n".join(lines) + "\n"


@dataclass(frozen=True, kw_only=True, slots=True)
class BrokerConfig:
    """Everything but the plain listener, persistence location and logging.

    :meth:`render_options` is the body :class:`lab.services.MosquittoServer` takes (it writes
    those itself); :func:`render_mosquitto_conf` writes a complete production file.
    """

    password_file: Path
    acl_file: Path
    tls: TlsListener | None = None
    cert_listener: TlsListener | None = None
    """Optional second TLS listener for devices that authenticate with a client
    certificate (``require_certificate`` and ``use_identity_as_username``), no password."""
    max_queued_messages: int = 0
    max_queued_bytes: int = 0
    max_inflight_messages: int = 0
    max_packet_size: int = 1024 * 1024
    persistent_client_expiration: str = "14d"
    extra: tuple[str, ...] = field(default=())

    @classmethod
    def for_profile(
        cls, profile: Profile, *, password_file: Path, acl_file: Path, tls: TlsListener | None
    ) -> BrokerConfig:
        base = cls(password_file=password_file, acl_file=acl_file, tls=tls)
        if profile is Profile.PRODUCTION:
            # 2 GiB of backlog per slow subscriber before anything is dropped (and logged).
            return replace(base, max_queued_bytes=2 * 1024**3, max_inflight_messages=100)
        return base

    def render_options(self) -> str:
        lines = [
            "allow_anonymous false",
            f"password_file {self.password_file}",
            f"acl_file {self.acl_file}",
            "# QoS1 is queued for slow or offline sessions; 0 lifts the count limit.",
            f"max_queued_messages {self.max_queued_messages}",
            f"max_queued_bytes {self.max_queued_bytes}",
            f"max_inflight_messages {self.max_inflight_messages}",
            f"max_packet_size {self.max_packet_size}",
            f"persistent_client_expiration {self.persistent_client_expiration}",
            *self.extra,
        ]
        return "\n".join(lines) + "\n" + self.render_listeners()

    def render_listeners(self) -> str:
        return "".join(listener.render() for listener in (self.tls, self.cert_listener) if listener)


def render_mosquitto_conf(
    config: BrokerConfig,
    *,
    persistence_location: Path,
    listener_host: str = "127.0.0.1",
    listener_port: int = 1883,
    autosave_interval_s: int = 10,
    log_dest: str = "syslog",
    run_as_user: str = "mosquitto",
) -> str:
    """A complete ``mosquitto.conf`` for a production host (systemd runs ``mosquitto -c``).

    Mosquitto started as root drops to ``run_as_user``, who must be able to read the
    password, ACL and key files (they are written 0600: chown them to that user).
    """
    return (
        "# written by 'fieldlink broker config'; regenerate rather than edit\n"
        f"user {run_as_user}\n"
        "per_listener_settings false\n"
        "persistence true\n"
        f"persistence_location {persistence_location}/\n"
        f"autosave_interval {autosave_interval_s}\n"
        f"log_dest {log_dest}\n"
        "log_type error\nlog_type warning\nlog_type notice\n"
        "connection_messages true\n"
        f"{replace(config, tls=None, cert_listener=None).render_options()}"
        "# plain MQTT for the bridge and local tools only\n"
        f"listener {listener_port} {listener_host}\n"
        f"{config.render_listeners()}"
    )
