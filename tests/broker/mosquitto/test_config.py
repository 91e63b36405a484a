"""Config templates and the complete broker directory."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from broker.mosquitto import (
    BrokerConfig,
    Credential,
    DeviceEntry,
    Profile,
    write_broker_dir,
)

pytestmark = pytest.mark.unit


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


def test_client_certificate_listener_is_optional(tmp_path: Path):
    result = write_broker_dir(tmp_path, bridge=Credential("fieldlink-bridge", "pw"), cert_port=8884)
    listeners = result.conf_file.read_text().split("listener ")[1:]
    assert [block.split()[0] for block in listeners] == ["1883", "8883", "8884"]
    assert "require_certificate true" in listeners[2]
    assert "use_identity_as_username true" in listeners[2]
    assert "require_certificate false" in listeners[1]
