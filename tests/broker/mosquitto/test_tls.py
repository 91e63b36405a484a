"""The private CA; test_hardened.py connects through it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from broker.mosquitto import CertificateAuthority

pytestmark = pytest.mark.unit


def test_certificates_chain_to_the_ca():
    ca = CertificateAuthority.create("test CA")
    server = x509.load_pem_x509_certificate(
        ca.issue_server(["localhost"], ips=["127.0.0.1"]).cert_pem
    )
    client = x509.load_pem_x509_certificate(ca.issue_client("pi-1").cert_pem)
    for cert in (server, client):
        cert.verify_directly_issued_by(ca.cert)
        assert cert.not_valid_after_utc > dt.datetime.now(dt.UTC)
    sans = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    cn = client.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)[0].value
    assert cn == "pi-1"
    assert isinstance(ca.key, ec.EllipticCurvePrivateKey)


def test_ca_in_a_directory_is_created_once_and_verifies_its_certificates(tmp_path: Path):
    """The layout the device registry keeps in STATE/ca: ca.pem and ca.key (0600)."""
    ca = CertificateAuthority.load_or_create(tmp_path / "ca")
    issued = ca.issue_client("pi-07")
    assert (tmp_path / "ca" / "ca.key").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "ca" / "ca.pem").read_bytes() == ca.cert_pem
    first_ca = ca.cert_pem
    assert CertificateAuthority.load_or_create(tmp_path / "ca").cert_pem == first_ca
    cert = x509.load_pem_x509_certificate(issued.cert_pem)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "pi-07"
    assert issued.serial == cert.serial_number
    assert issued.not_after == cert.not_valid_after_utc
    assert ca.verify(issued.cert_pem)
    assert not CertificateAuthority.load_or_create(tmp_path / "other").verify(issued.cert_pem)
    assert not ca.verify(b"not a certificate")
    assert "pi-07" not in repr(issued)
    assert "PRIVATE" not in repr(issued)
