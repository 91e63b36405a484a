"""Passwords hashed as Mosquitto stores them; client certificates signed by the CA."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from firmware.identity import (
    CertificateAuthority,
    generate_password,
    mosquitto_hash,
    verify_password,
)
from lab.install import mosquitto_binary

pytestmark = pytest.mark.unit


def test_hash_verifies_only_the_right_password():
    password = generate_password()
    stored = mosquitto_hash(password)
    assert stored.startswith("$7$101$")
    assert verify_password(stored, password)
    assert not verify_password(stored, password + "x")
    assert mosquitto_hash(password) != stored  # fresh salt each time


def test_hash_matches_mosquitto_passwd_format(tmp_path: Path):
    """mosquitto_passwd writes the same $7$ layout (iterations, salt and hash lengths)."""
    binary = mosquitto_binary("mosquitto_passwd")
    assert binary is not None
    passwd = tmp_path / "passwd"
    passwd.touch()
    subprocess.run([binary, "-b", passwd, "pi-07", "s3cret"], check=True)
    theirs = passwd.read_text().strip().partition(":")[2].split("$")
    ours = mosquitto_hash("s3cret").split("$")
    assert [len(p) for p in theirs] == [len(p) for p in ours]
    assert theirs[:3] == ours[:3]
    assert verify_password(passwd.read_text().strip().partition(":")[2], "s3cret")


@pytest.mark.parametrize("bad", ["", "two\nlines"])
def test_hash_refuses_unusable_passwords(bad: str):
    with pytest.raises(ValueError, match="password"):
        mosquitto_hash(bad)


def test_ca_is_created_once_and_signs_client_certificates(tmp_path: Path):
    ca = CertificateAuthority(tmp_path / "ca")
    issued = ca.issue("pi-07")
    assert ca.key_path.stat().st_mode & 0o777 == 0o600
    first_ca = ca.ca_pem()
    assert CertificateAuthority(tmp_path / "ca").ca_pem() == first_ca
    cert = x509.load_pem_x509_certificate(issued.cert_pem)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "pi-07"
    assert ca.verify(issued.cert_pem)
    assert not CertificateAuthority(tmp_path / "other").verify(issued.cert_pem)
    assert "pi-07" not in repr(issued)
    assert "PRIVATE" not in repr(issued)
