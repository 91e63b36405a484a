"""Device identities: MQTT passwords (hashed as Mosquitto stores them) and X.509 client
certificates signed by the deployment's CA.

The clear-text password exists only in memory while an image is written; the registry keeps
:func:`mosquitto_hash` of it, which is what the broker's password file holds.

>>> stored = mosquitto_hash("s3cret", salt=bytes(12))
>>> stored.startswith("$7$101$AAAAAAAAAAAAAAAA$")
True
>>> verify_password(stored, "s3cret"), verify_password(stored, "guess")
(True, False)
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "CertificateAuthority",
    "ClientCertificate",
    "generate_password",
    "mosquitto_hash",
    "verify_password",
]

_ITERATIONS = 101  # what mosquitto_passwd of Mosquitto 2 writes; the broker reads it per line
_SALT_BYTES = 12
_HASH_BYTES = 64


def generate_password(nbytes: int = 24) -> str:
    """A random URL-safe password with ``nbytes`` of entropy."""
    return secrets.token_urlsafe(nbytes)


def mosquitto_hash(password: str, *, salt: bytes | None = None) -> str:
    """The ``$7$`` (PBKDF2-HMAC-SHA512) hash Mosquitto 2 keeps in its password file.

    The one place the hash format lives, so the broker tier's implementation can replace it.
    """
    if not password or any(c in password for c in "\r\n"):
        raise ValueError("password must be non-empty and on one line")
    salt = os.urandom(_SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, _ITERATIONS, _HASH_BYTES)
    return f"$7${_ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(stored: str, password: str) -> bool:
    """Whether ``password`` matches a ``$7$`` hash, checked the way Mosquitto checks it."""
    parts = stored.split("$")
    if len(parts) != 5 or parts[1] != "7":
        return False
    iterations, salt = int(parts[2]), base64.b64decode(parts[3])
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, _HASH_BYTES)
    return hmac.compare_digest(base64.b64encode(digest).decode(), parts[4])


@dataclass(frozen=True, slots=True)
class ClientCertificate:
    """A device's certificate and private key, both PEM."""

    cert_pem: bytes
    key_pem: bytes
    serial: int
    not_after: dt.datetime

    def __repr__(self) -> str:  # never print a key by accident
        return f"ClientCertificate(serial={self.serial:x}, not_after={self.not_after:%Y-%m-%d})"


class CertificateAuthority:
    """The deployment's CA: created on first use in ``directory`` (``ca.pem``, ``ca.key``).

    >>> ca = CertificateAuthority(Path(getfixture("tmp_path")))
    >>> issued = ca.issue("pi-07")
    >>> ca.verify(issued.cert_pem)
    True
    """

    def __init__(self, directory: Path, *, name: str = "fieldlink deployment CA"):
        self.directory = directory
        self.name = name

    @property
    def cert_path(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def key_path(self) -> Path:
        return self.directory / "ca.key"

    def _load_or_create(self) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        if self.cert_path.exists() and self.key_path.exists():
            cert = x509.load_pem_x509_certificate(self.cert_path.read_bytes())
            key = serialization.load_pem_private_key(self.key_path.read_bytes(), password=None)
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                raise ValueError(f"{self.key_path}: expected an EC private key")
            return cert, key
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.name)])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        self.directory.mkdir(parents=True, exist_ok=True)
        _write_private(self.key_path, _key_pem(key))
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cert, key

    def ca_pem(self) -> bytes:
        cert, _ = self._load_or_create()
        return cert.public_bytes(serialization.Encoding.PEM)

    def issue(self, device: str, *, days: int = 825) -> ClientCertificate:
        """A client certificate with ``CN=device`` (what Mosquitto's
        ``use_identity_as_username`` maps to the username)."""
        ca_cert, ca_key = self._load_or_create()
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        not_after = now + dt.timedelta(days=days)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, device)]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        return ClientCertificate(
            cert_pem=cert.public_bytes(serialization.Encoding.PEM),
            key_pem=_key_pem(key),
            serial=cert.serial_number,
            not_after=not_after,
        )

    def verify(self, cert_pem: bytes) -> bool:
        """Whether ``cert_pem`` was signed by this CA (signature and issuer checked)."""
        ca_cert, _ = self._load_or_create()
        cert = x509.load_pem_x509_certificate(cert_pem)
        try:
            cert.verify_directly_issued_by(ca_cert)
        except (InvalidSignature, ValueError, TypeError):
            return False
        return True


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
