"""Hardened Mosquitto: config templates, password file, ACL and TLS material.

A clean API for whoever holds the device registry (``fieldlink broker config``, the firmware
tier's provisioning):

>>> from pathlib import Path
>>> from broker.mosquitto import Credential, DeviceEntry, write_broker_dir
>>> write_broker_dir(Path("/tmp/broker"), bridge=Credential("fieldlink-bridge", "pw"),
...                  devices=[DeviceEntry(Credential("pi-01", "pw1"), site="farm")])
... # doctest: +SKIP
"""

from ._files import write_private_file
from .acl import DeviceGrant, render_acl, write_acl_file
from .config import BrokerConfig, Profile, TlsListener, render_mosquitto_conf
from .credentials import (
    Credential,
    generate_password,
    hash_password,
    password_hash,
    password_line,
    verify_password,
    write_password_file,
    write_password_lines,
)
from .provision import BrokerDir, DeviceEntry, write_broker_dir
from .tls import CertificateAuthority, IssuedCert, TlsFiles, write_tls_files

__all__ = [
    "BrokerConfig",
    "BrokerDir",
    "CertificateAuthority",
    "Credential",
    "DeviceEntry",
    "DeviceGrant",
    "IssuedCert",
    "Profile",
    "TlsFiles",
    "TlsListener",
    "generate_password",
    "hash_password",
    "password_hash",
    "password_line",
    "render_acl",
    "render_mosquitto_conf",
    "verify_password",
    "write_acl_file",
    "write_broker_dir",
    "write_password_file",
    "write_password_lines",
    "write_private_file",
    "write_tls_files",
]
