"""The device registry: add, list, revoke, rotate, and the broker files it keeps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from broker.mosquitto import Credential, DeviceGrant, render_acl, verify_password
from firmware.errors import DeviceExistsError, DeviceNotFoundError, RegistryError
from firmware.registry import DeviceState, Registry

pytestmark = pytest.mark.unit


def _password_file(registry: Registry) -> dict[str, str]:
    lines = registry.password_file.read_text().splitlines()
    return dict(line.split(":", 1) for line in lines)


def test_add_stores_only_the_hash_and_writes_broker_files(registry: Registry):
    issued = registry.add("pi-07", site="farm", profile="climate")
    assert issued.password not in registry.path.read_text()
    assert registry.verify("pi-07", issued.password)
    assert verify_password(_password_file(registry)["pi-07"], issued.password)
    assert registry.password_file.stat().st_mode & 0o777 == 0o600
    acl = registry.acl_file.read_text()
    assert "user pi-07\n" in acl
    assert "topic write fieldlink/farm/pi-07/telemetry\n" in acl
    assert "topic write fieldlink/farm/pi-07/status\n" in acl
    assert "topic read fieldlink/farm/pi-07/commands\n" in acl
    assert "topic read fieldlink/farm/pi-07/alerts\n" in acl
    assert issued.password not in repr(issued)


def test_registry_survives_a_new_instance_and_lists_by_site(tmp_path: Path):
    Registry(tmp_path).add("b-2", site="beta")
    assert not (tmp_path / "ca").exists()  # the CA is made for the first certificate only
    issued = Registry(tmp_path).add("a-1", site="alpha", cert=True)
    assert issued.certificate is not None
    assert issued.ca_pem == (tmp_path / "ca" / "ca.pem").read_bytes()
    assert (tmp_path / "ca" / "ca.key").stat().st_mode & 0o777 == 0o600
    assert Registry(tmp_path).ca.verify(issued.certificate.cert_pem)  # same CA, from disk
    devices = Registry(tmp_path).devices()
    assert [(d.id, d.site) for d in devices] == [("a-1", "alpha"), ("b-2", "beta")]
    assert devices[0].cert_serial == f"{issued.certificate.serial:x}"
    assert devices[1].cert_serial is None


def test_duplicate_and_invalid_devices_are_refused(registry: Registry):
    registry.add("pi-07", site="farm")
    with pytest.raises(DeviceExistsError, match="pi-07"):
        registry.add("pi-07", site="farm")
    with pytest.raises(RegistryError, match="id"):
        registry.add("Bad/Name", site="farm")
    with pytest.raises(KeyError, match="unknown sensor profile"):
        registry.add("pi-08", site="farm", profile="nope")
    assert [d.id for d in registry.devices()] == ["pi-07"]


def test_unknown_device_names_the_registry_and_the_fix(registry: Registry):
    with pytest.raises(DeviceNotFoundError) as caught:
        registry.get("ghost")
    assert isinstance(caught.value, KeyError)
    assert "fieldlink device add ghost" in str(caught.value)
    assert str(registry.path) in str(caught.value)


def test_rotate_invalidates_the_old_password(registry: Registry):
    first = registry.add("pi-07", site="farm")
    second = registry.rotate("pi-07")
    assert second.password != first.password
    assert registry.verify("pi-07", second.password)
    assert not registry.verify("pi-07", first.password)
    assert verify_password(_password_file(registry)["pi-07"], second.password)


def test_revoke_removes_the_device_from_broker_files(registry: Registry):
    registry.add("pi-07", site="farm")
    keep = registry.add("pi-08", site="farm")
    revoked = registry.revoke("pi-07")
    assert revoked.state is DeviceState.REVOKED
    assert revoked.revoked_at is not None
    assert set(_password_file(registry)) == {"pi-08"}
    assert "pi-07" not in registry.acl_file.read_text()
    assert registry.verify("pi-08", keep.password)
    with pytest.raises(RegistryError, match="revoked"):
        registry.rotate("pi-07")
    assert [d.id for d in registry.devices(include_revoked=False)] == ["pi-08"]


def test_deployment_files_hold_the_bridge_and_the_active_devices(
    registry: Registry, tmp_path: Path
):
    """One complete password file and ACL: the bridge beside the devices, revoked ones out."""
    keep = registry.add("pi-08", site="farm")
    registry.add("pi-07", site="farm")
    registry.revoke("pi-07")
    bridge = Credential("fieldlink-bridge", "bridge-pw")
    passwd = registry.write_password_file(tmp_path / "passwd", extra=[bridge])
    lines = dict(line.split(":", 1) for line in passwd.read_text().splitlines())
    assert list(lines) == ["fieldlink-bridge", "pi-08"]
    assert verify_password(lines["fieldlink-bridge"], "bridge-pw")
    assert verify_password(lines["pi-08"], keep.password)
    assert passwd.stat().st_mode & 0o777 == 0o600
    acl = registry.write_acl_file(tmp_path / "acl", bridge_users=["fieldlink-bridge"])
    assert acl.read_text() == render_acl(
        bridge_users=["fieldlink-bridge"], devices=[DeviceGrant("pi-08", "farm")]
    )
    assert acl.stat().st_mode & 0o777 == 0o600
    assert "pi-07" not in acl.read_text()
    with pytest.raises(RegistryError, match="duplicate"):
        registry.write_password_file(tmp_path / "dup", extra=[Credential("pi-08", "x")])
    with pytest.raises(RegistryError, match="bridge"):
        registry.write_acl_file(tmp_path / "bad", bridge_users=["a/b"])


def test_an_empty_registry_grants_nothing(registry: Registry, tmp_path: Path):
    """No active device is no grant at all, never the fleet-wide pattern lines."""
    registry.add("pi-07", site="farm")
    registry.revoke("pi-07")
    assert registry.password_file.read_text() == ""
    assert "pattern" not in registry.acl_file.read_text()
    assert "topic" not in registry.acl_file.read_text()
    assert "pattern" not in registry.write_acl_file(tmp_path / "acl").read_text()


def test_export_is_readable_and_holds_no_secrets(registry: Registry):
    issued = registry.add("pi-07", site="farm")
    text = registry.export()
    rows = json.loads(text)["devices"]
    assert rows[0]["id"] == "pi-07"
    assert rows[0]["state"] == "active"
    assert "$7$" not in text
    assert issued.password not in text


def test_corrupt_registry_file_is_a_clear_error(registry: Registry):
    registry.add("pi-07", site="farm")
    registry.path.write_text('{"version": 1, "devices": {"pi-07": {"id": "pi-07"}}}')
    with pytest.raises(RegistryError, match="not a valid registry"):
        registry.devices()
    registry.path.write_text("{not json")
    with pytest.raises(RegistryError, match="not a valid registry"):
        registry.get("pi-07")
