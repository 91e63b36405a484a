"""ACL text; test_hardened.py checks that Mosquitto enforces it."""

from __future__ import annotations

import pytest

from broker.errors import CredentialError
from broker.mosquitto import DeviceGrant, render_acl

pytestmark = pytest.mark.unit


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
