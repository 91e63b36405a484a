"""The private CA; test_hardened.py connects through it."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

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
