"""A private certificate authority for the broker: CA, server and client certificates.

Keys are ECDSA P-256 (small, fast on a Pi). Files are PEM; private keys are written 0600.
A device's client certificate carries its device id as common name, so a listener with
``use_identity_as_username true`` authenticates it without a password. This is the one CA
of the project: the firmware tier's device registry keeps it in ``STATE/ca`` through
:meth:`CertificateAuthority.load_or_create`.

>>> ca = CertificateAuthority.create("fieldlink lab CA")
>>> server = ca.issue_server(["localhost"], ips=["127.0.0.1"])
>>> b"BEGIN CERTIFICATE" in server.cert_pem
True
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ._files import write_private_file

__all__ = ["CertificateAuthority", "IssuedCert", "TlsFiles", "write_tls_files"]

_ONE_DAY = dt.timedelta(days=1)


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fieldlink"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


@dataclass(frozen=True, slots=True, repr=False)
class IssuedCert:
    """A certificate and its private key, both PEM."""

    cert_pem: bytes
    key_pem: bytes

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)

    @property
    def serial(self) -> int:
        return self.certificate.serial_number

    @property
    def not_after(self) -> dt.datetime:
        """Expiry (UTC)."""
        return self.certificate.not_valid_after_utc

    def __repr__(self) -> str:  # never print a key (nor whom it belongs to) by accident
        return f"IssuedCert(serial={self.serial:x}, not_after={self.not_after:%Y-%m-%d})"

    def write(self, cert_path: Path, key_path: Path) -> None:
        """Write the key (mode 0600) first, then the certificate, each replaced atomically."""
        write_private_file(key_path, self.key_pem)
        cert_path.parent.mkdir(parents=True, exist_ok=True)
        cert_path.write_bytes(self.cert_pem)


class CertificateAuthority:
    """A self-signed CA that issues the broker's server certificate and device certificates.

    In memory (:meth:`create`), from two files (:meth:`load`), or kept in a directory and
    created there on first use (:meth:`load_or_create`, what the device registry does):

    >>> from pathlib import Path
    >>> ca = CertificateAuthority.load_or_create(Path(getfixture("tmp_path")) / "ca")
    >>> ca.verify(ca.issue_client("pi-07").cert_pem)
    True
    >>> ca.verify(CertificateAuthority.create().issue_client("pi-07").cert_pem)
    False
    """

    def __init__(self, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey):
        self.cert = cert
        self.key = key

    @classmethod
    def create(cls, common_name: str = "fieldlink CA", *, valid_days: int = 3650) -> Self:
        key = _key()
        now = dt.datetime.now(dt.UTC)
        name = _name(common_name)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _ONE_DAY)
            .not_valid_after(now + dt.timedelta(days=valid_days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
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
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        return cls(cert, key)

    @classmethod
    def load(cls, cert_path: Path, key_path: Path) -> Self:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise TypeError(f"{key_path}: expected an EC private key")
        return cls(cert, key)

    @classmethod
    def load_or_create(
        cls,
        directory: Path,
        *,
        common_name: str = "fieldlink deployment CA",
        cert_name: str = "ca.pem",
        key_name: str = "ca.key",
    ) -> Self:
        """The CA kept in ``directory`` (``ca.pem`` and ``ca.key``), created there if absent.

        The key is written (mode 0600) before the certificate, so a crash in between leaves
        no certificate without its key and the next call creates a fresh pair.
        """
        cert_path, key_path = directory / cert_name, directory / key_name
        if cert_path.exists() and key_path.exists():
            return cls.load(cert_path, key_path)
        ca = cls.create(common_name)
        IssuedCert(ca.cert_pem, ca.key_pem).write(cert_path, key_path)
        return ca

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return _key_pem(self.key)

    def _issue(
        self,
        common_name: str,
        *,
        usage: x509.ObjectIdentifier,
        sans: Sequence[x509.GeneralName],
        valid_days: int,
    ) -> IssuedCert:
        key = _key()
        now = dt.datetime.now(dt.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _ONE_DAY)
            .not_valid_after(now + dt.timedelta(days=valid_days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        return IssuedCert(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))

    def issue_server(
        self,
        hostnames: Sequence[str],
        *,
        ips: Sequence[str] = (),
        valid_days: int = 825,
    ) -> IssuedCert:
        """A server certificate for the broker, valid for ``hostnames`` and ``ips``."""
        sans: list[x509.GeneralName] = [x509.DNSName(h) for h in hostnames]
        sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
        common_name = hostnames[0] if hostnames else (ips[0] if ips else "mosquitto")
        return self._issue(
            common_name, usage=ExtendedKeyUsageOID.SERVER_AUTH, sans=sans, valid_days=valid_days
        )

    def issue_client(self, username: str, *, valid_days: int = 825) -> IssuedCert:
        """A client certificate whose common name is ``username`` (the device id)."""
        return self._issue(
            username, usage=ExtendedKeyUsageOID.CLIENT_AUTH, sans=(), valid_days=valid_days
        )

    def verify(self, cert_pem: bytes) -> bool:
        """Whether ``cert_pem`` was signed by this CA (signature and issuer checked)."""
        try:
            x509.load_pem_x509_certificate(cert_pem).verify_directly_issued_by(self.cert)
        except (InvalidSignature, ValueError, TypeError):
            return False
        return True


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """Where :func:`write_tls_files` put the CA certificate and the server's pair."""

    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path


def write_tls_files(
    directory: Path,
    *,
    hostnames: Sequence[str] = ("localhost",),
    ips: Sequence[str] = ("127.0.0.1",),
    ca: CertificateAuthority | None = None,
) -> TlsFiles:
    """Create (or reuse ``ca``) a CA and a server certificate under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = ca or CertificateAuthority.create()
    files = TlsFiles(
        ca_cert=directory / "ca.crt",
        ca_key=directory / "ca.key",
        server_cert=directory / "server.crt",
        server_key=directory / "server.key",
    )
    IssuedCert(ca.cert_pem, ca.key_pem).write(files.ca_cert, files.ca_key)
    ca.issue_server(hostnames, ips=ips).write(files.server_cert, files.server_key)
    return files
