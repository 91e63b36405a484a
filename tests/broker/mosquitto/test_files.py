"""Password, ACL, config and TLS files, checked without a broker (the integration tests in
test_hardened.py check that Mosquitto enforces them)."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from broker.errors import CredentialError
from broker.mosquitto import (
    BrokerConfig,
    CertificateAuthority,
    Credential,
    DeviceEntry,
    DeviceGrant,
    Profile,
    hash_password,
    render_acl,
    verify_password,
    write_broker_dir,
    write_password_file,
)

pytestmark = pytest.mark.unit


def test_password_lines_verify_and_are_salted():
    first = hash_password("pi-1", "secret")
    second = hash_password("pi-1", "secret")
    assert first != second
    assert verify_password(first, "secret")
    assert not verify_password(first, "Secret")


@pytest.mark.parametrize("username", ["", "a:b", "a+b", "a#", "site/dev", "x\ny"])
def test_dangerous_usernames_are_refused(username: str):
    with pytest.raises(CredentialError):
        hash_password(username, "pw")


def test_password_file_is_private_and_refuses_duplicates(tmp_path: Path):
    path = write_password_file(tmp_path / "passwd", [("a", "1"), Credential("b", "2")])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [line.split(":")[0] for line in path.read_text().splitlines()] == ["a", "b"]
    with pytest.raises(CredentialError, match="duplicate"):
        write_password_file(tmp_path / "dup", [("a", "1"), ("a", "2")])
    assert "1" not in repr(Credential("a", "1"))


def test_acl_patterns_scope_devices_to_their_own_topics():
    lines = render_acl(bridge_users=["bridge"]).splitlines()
    assert "pattern write fieldlink/+/%u/telemetry" in lines
    assert "pattern write fieldlink/+/%u/status" in lines
    assert "pattern read fieldlink/+/%u/commands" in lines
    assert "pattern read fieldlink/+/%u/alerts" in lines
    bridge = lines[lines.index("user bridge") + 1 : lines.index("user bridge") + 5]
    assert bridge == [
        "topic read fieldlink/+/+/telemetry",
        "topic read fieldlink/+/+/status",
        "topic write fieldlink/+/+/commands",
        "topic write fieldlink/+/+/alerts",
    ]


def test_acl_per_site_pins_each_device_and_has_no_patterns():
    text = render_acl(bridge_users=["bridge"], devices=[DeviceGrant("pi-1", "farm")])
    assert "pattern" not in text
    assert "user pi-1\ntopic write fieldlink/farm/pi-1/telemetry\n" in text
    with pytest.raises(CredentialError):
        render_acl(bridge_users=["bridge"], devices=[DeviceGrant("pi-1", "Bad Site")])


def test_config_never_drops_qos1_silently_and_refuses_anonymous():
    lab = BrokerConfig.for_profile(
        Profile.LAB, password_file=Path("/p"), acl_file=Path("/a"), tls=None
    ).render_options()
    assert "allow_anonymous false" in lab
    assert "max_queued_messages 0" in lab  # the default of 1000 drops QoS1 messages
    production = BrokerConfig.for_profile(
        Profile.PRODUCTION, password_file=Path("/p"), acl_file=Path("/a"), tls=None
    ).render_options()
    assert "max_queued_messages 0" in production
    assert f"max_queued_bytes {2 * 1024**3}" in production


def test_broker_dir_is_complete(tmp_path: Path):
    result = write_broker_dir(
        tmp_path,
        bridge=Credential("fieldlink-bridge", "pw"),
        devices=[DeviceEntry(Credential("pi-1", "x"), "farm")],
    )
    conf = result.conf_file.read_text()
    for line in (
        "persistence true",
        "autosave_interval 10",
        "allow_anonymous false",
        f"password_file {result.password_file}",
        f"acl_file {result.acl_file}",
        "listener 1883 127.0.0.1",
        "listener 8883 0.0.0.0",
        "tls_version tlsv1.2",
        "log_type notice",
    ):
        assert line in conf.splitlines(), line
    assert "user pi-1" in result.acl_file.read_text()  # every device has a site: per-site
    assert result.tls is not None
    assert stat.S_IMODE(result.tls.server_key.stat().st_mode) == 0o600


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
