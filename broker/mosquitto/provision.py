"""Write a complete broker directory: password file, ACL, TLS material and mosquitto.conf.

This is what ``fieldlink broker config`` runs and what the firmware tier calls with its device
registry.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from .acl import DeviceGrant, write_acl_file
from .config import BrokerConfig, Profile, TlsListener, render_mosquitto_conf
from .credentials import Credential, write_password_file
from .tls import CertificateAuthority, TlsFiles, write_tls_files

__all__ = ["BrokerDir", "DeviceEntry", "write_broker_dir"]


@dataclass(frozen=True, slots=True)
class DeviceEntry:
    """A device from the registry: its credential and, if known, its site."""

    credential: Credential
    site: str | None = None


@dataclass(frozen=True, slots=True)
class BrokerDir:
    directory: Path
    config: BrokerConfig
    password_file: Path
    acl_file: Path
    tls: TlsFiles | None
    conf_file: Path


def write_broker_dir(
    directory: Path,
    *,
    bridge: Credential,
    devices: Iterable[DeviceEntry] = (),
    profile: Profile = Profile.PRODUCTION,
    tls_port: int | None = 8883,
    tls_hostnames: Sequence[str] = ("localhost",),
    tls_ips: Sequence[str] = ("127.0.0.1",),
    ca: CertificateAuthority | None = None,
    listener_port: int = 1883,
    per_site: bool | None = None,
    cert_port: int | None = None,
) -> BrokerDir:
    """Render everything into ``directory``.

    ``per_site`` (default: when every device has a site) writes explicit per-device ACL
    grants pinned to the site instead of the fleet-wide ``pattern`` lines. ``cert_port``
    adds a listener where devices authenticate with a client certificate issued by the CA
    (common name = device id) instead of a password.
    """
    directory.mkdir(parents=True, exist_ok=True)
    entries = list(devices)
    if per_site is None:
        per_site = bool(entries) and all(entry.site for entry in entries)
    password_file = write_password_file(
        directory / "passwd", [bridge, *(entry.credential for entry in entries)]
    )
    grants = (
        [DeviceGrant(e.credential.username, e.site or "") for e in entries] if per_site else None
    )
    acl_file = write_acl_file(directory / "acl", bridge_users=[bridge.username], devices=grants)
    tls_files = None
    listener = cert_listener = None
    if tls_port is not None or cert_port is not None:
        tls_files = write_tls_files(directory / "tls", hostnames=tls_hostnames, ips=tls_ips, ca=ca)
        host = "127.0.0.1" if profile is Profile.LAB else "0.0.0.0"  # noqa: S104
        base = TlsListener(
            port=tls_port or 8883,
            host=host,
            cafile=tls_files.ca_cert,
            certfile=tls_files.server_cert,
            keyfile=tls_files.server_key,
        )
        if tls_port is not None:
            listener = base
        if cert_port is not None:
            cert_listener = replace(
                base, port=cert_port, require_certificate=True, use_identity_as_username=True
            )
    config = replace(
        BrokerConfig.for_profile(
            profile, password_file=password_file, acl_file=acl_file, tls=listener
        ),
        cert_listener=cert_listener,
    )
    conf_file = directory / "mosquitto.conf"
    conf_file.write_text(
        render_mosquitto_conf(
            config,
            persistence_location=directory / "data",
            listener_port=listener_port,
            autosave_interval_s=1 if profile is Profile.LAB else 10,
            log_dest="stdout" if profile is Profile.LAB else "syslog",
            run_as_user=getpass.getuser() if profile is Profile.LAB else "mosquitto",
        )
    )
    return BrokerDir(directory, config, password_file, acl_file, tls_files, conf_file)
