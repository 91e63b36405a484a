"""One-shot provisioning for docker compose: device identities and Mosquitto's files.

Runs in the ``provision`` service (bridge image) before Mosquitto starts, on every
``docker compose up``, and is idempotent:

1. The device registry (``STATE``, the ``state`` volume) is the source of truth. With
   ``FIELDLINK_SIM_DEVICES=N`` it holds at least the simulated devices ``sim-001`` ..
   ``sim-N`` at site ``FIELDLINK_SIM_SITE``; each gets an edge config with its own MQTT
   password in ``FLEET/devices/<id>/edge.toml`` (the ``fleet`` volume, group-readable by the
   edge agents). A device that already has a config whose password the registry still
   accepts keeps it; otherwise it is rotated. Real devices added with
   ``docker compose run --rm provision fieldlink device add NAME --site SITE`` are kept too.
2. Mosquitto's directory (``BROKER``, the ``broker`` volume) is rendered from the registry's
   password hashes plus the bridge credential (``FIELDLINK_BRIDGE_MQTT_PASSWORD``): the
   production profile of ``broker.mosquitto`` (no anonymous access, per-device ACL pinned to
   the site, unbounded QoS1 queue count), with the plain listener on all interfaces of the
   compose network, persistence in the ``mosquitto-data`` volume, logs on stdout, and a TLS
   listener (8883) for devices outside the host, its CA kept across runs.

Mosquitto reads its files only at start (or on SIGHUP), so after adding a device run this
again and restart Mosquitto: ``docker compose up -d provision && docker compose restart
mosquitto``.
"""

from __future__ import annotations

import logging
import os
import sys
import tomllib
from pathlib import Path

from broker.mosquitto import (
    BrokerConfig,
    CertificateAuthority,
    DeviceGrant,
    Profile,
    TlsListener,
    hash_password,
    render_mosquitto_conf,
    write_acl_file,
    write_tls_files,
)
from firmware.edgeconfig import EdgeConfig, render_edge_config, toml_dumps
from firmware.profiles import get_profile
from firmware.registry import Registry

log = logging.getLogger("fieldlink.provision")

BRIDGE_USER = "fieldlink-bridge"
MOSQUITTO_CONF_DIR = Path("/mosquitto/config")  # where the mosquitto service mounts BROKER
MOSQUITTO_DATA_DIR = Path("/mosquitto/data")


def sim_device_ids(count: int) -> list[str]:
    return [f"sim-{number:03d}" for number in range(1, count + 1)]


def _stored_password(config_file: Path) -> str | None:
    try:
        document = tomllib.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    password = document.get("mqtt", {}).get("password")
    return password if isinstance(password, str) else None


def _write(path: Path, text: str, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.chmod(mode)
    tmp.replace(path)


def provision_fleet(
    registry: Registry, fleet: Path, *, count: int, site: str, host: str, profile: str
) -> None:
    """Make sure ``count`` simulated devices exist, each with a working edge config."""
    for device in sim_device_ids(count):
        directory = fleet / "devices" / device
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o2770)  # the edge agent (group fieldlink) keeps its buffer here
        config_file = directory / "edge.toml"
        known = {d.id for d in registry.devices(include_revoked=False)}
        password = _stored_password(config_file)
        if device in known and password is not None and registry.verify(device, password):
            continue
        issued = (
            registry.rotate(device)
            if device in known
            else registry.add(device, site=site, profile=profile)
        )
        config = EdgeConfig(
            device=device,
            site=issued.device.site,
            mqtt_host=host,
            mqtt_username=device,
            mqtt_password=issued.password,
            sensors=get_profile(issued.device.profile).sensors,
        )
        # A container's clock is the host's, kept by NTP: trust it (a Pi without RTC is
        # "kernel"). Top-level keys go before the tables render_edge_config writes.
        buffer = toml_dumps({"buffer": {"path": str(directory / "buffer.sqlite3")}})
        text = 'clock = "trusted"\n' + render_edge_config(config) + "\n" + buffer
        _write(config_file, text, 0o640)
        log.info("issued credentials for simulated device %s", device)


def provision_broker(
    registry: Registry, broker: Path, state: Path, *, bridge_password: str
) -> None:
    """Render mosquitto.conf, passwd, acl and tls/ from the registry."""
    broker.mkdir(parents=True, exist_ok=True)
    devices = registry.devices(include_revoked=False)
    passwd = [hash_password(BRIDGE_USER, bridge_password), *registry.password_lines()]
    _write(broker / "passwd", "".join(f"{line}\n" for line in passwd), 0o600)
    write_acl_file(
        broker / "acl",
        bridge_users=[BRIDGE_USER],
        devices=[DeviceGrant(d.id, d.site) for d in devices],
    )
    tls_dir = broker / "tls"
    if not (tls_dir / "server.crt").exists():
        files = write_tls_files(
            tls_dir,
            hostnames=["mosquitto", "localhost", *_extra_hostnames()],
            ca=CertificateAuthority.create(),
        )
        # Mosquitto needs the CA certificate, never its key: keep that with the registry.
        state.mkdir(parents=True, exist_ok=True)
        files.ca_key.replace(state / "broker-ca.key")
    inside = MOSQUITTO_CONF_DIR
    listener = TlsListener(
        port=8883,
        cafile=inside / "tls" / "ca.crt",
        certfile=inside / "tls" / "server.crt",
        keyfile=inside / "tls" / "server.key",
    )
    config = BrokerConfig.for_profile(
        Profile.PRODUCTION,
        password_file=inside / "passwd",
        acl_file=inside / "acl",
        tls=listener,
    )
    conf = render_mosquitto_conf(
        config,
        persistence_location=MOSQUITTO_DATA_DIR,
        listener_host="0.0.0.0",  # noqa: S104 - reachable on the compose network only
        log_dest="stdout",
    )
    # The mosquitto service runs as uid 1883 from the start; its `user` line is then unused.
    _write(broker / "mosquitto.conf", conf, 0o644)
    log.info("broker files written for %d devices and the bridge", len(devices))


def _extra_hostnames() -> list[str]:
    raw = os.environ.get("FIELDLINK_BROKER_HOSTNAMES", "")
    return [name.strip() for name in raw.split(",") if name.strip()]


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    bridge_password = os.environ.get("FIELDLINK_BRIDGE_MQTT_PASSWORD", "")
    if not bridge_password:
        log.error("FIELDLINK_BRIDGE_MQTT_PASSWORD is not set (see .env.example)")
        return 2
    state = Path(os.environ.get("FIELDLINK_STATE_DIR", "/var/lib/fieldlink/state"))
    fleet = Path(os.environ.get("FIELDLINK_FLEET_DIR", "/var/lib/fieldlink/fleet"))
    broker = Path(os.environ.get("FIELDLINK_BROKER_DIR", "/var/lib/fieldlink/broker"))
    count = int(os.environ.get("FIELDLINK_SIM_DEVICES", "0"))
    site = os.environ.get("FIELDLINK_SIM_SITE", "lab")
    host = os.environ.get("FIELDLINK_SIM_MQTT_HOST", "mosquitto")
    profile = os.environ.get("FIELDLINK_SIM_PROFILE", "climate")
    registry = Registry(state)
    provision_fleet(registry, fleet, count=count, site=site, host=host, profile=profile)
    provision_broker(registry, broker, state, bridge_password=bridge_password)
    return 0


if __name__ == "__main__":
    sys.exit(main())
