"""Mosquitto ACL files: who may publish and subscribe where.

Devices authenticate with their device id as username. In the default (pattern) mode, one
set of ``pattern`` lines serves the whole fleet: ``%u`` is replaced by the username, so a
device may publish only to ``fieldlink/+/<itself>/telemetry|status`` and read only its own
``commands|alerts``. Mosquitto refuses a pattern match for usernames holding ``+``, ``#`` or
``/``, and :mod:`broker.mosquitto.credentials` refuses to write such names.

Patterns cannot name a site, so a device could claim any site. When the registry knows each
device's site, :func:`render_acl` with ``devices=`` writes explicit per-device grants instead
and the site is enforced too. The bridge credential reads every device's upstream channels
(including through ``$share/...`` subscriptions) and writes the downstream ones.

>>> print(render_acl(bridge_users=["bridge"]).splitlines()[-1])
pattern read fieldlink/+/%u/alerts
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from broker.errors import CredentialError
from fieldlink.messages import Channel, MqttTopic, mqtt_topic

from ._files import write_private_file

__all__ = ["DeviceGrant", "render_acl", "write_acl_file"]

_UPSTREAM = (Channel.TELEMETRY, Channel.STATUS)
_DOWNSTREAM = (Channel.COMMANDS, Channel.ALERTS)


@dataclass(frozen=True, slots=True)
class DeviceGrant:
    """A device and the site it is allowed to publish under."""

    device: str
    site: str


def render_acl(*, bridge_users: Iterable[str], devices: Iterable[DeviceGrant] | None = None) -> str:
    """The text of an ACL file.

    Without ``devices``: ``pattern`` lines for any device. With ``devices``: explicit
    ``user`` blocks, one per device, pinned to its site (no patterns at all, so a user
    missing from the registry gets nothing).
    """
    lines = ["# written by fieldlink broker; regenerate rather than edit", ""]
    for user in bridge_users:
        if not user or any(c in user for c in "+#/\n"):
            raise CredentialError(user, "bridge username may not contain '+', '#' or '/'")
        lines.append(f"user {user}")
        lines += [f"topic read {MqttTopic.subscription(channel)}" for channel in _UPSTREAM]
        lines += [f"topic write {MqttTopic.subscription(channel)}" for channel in _DOWNSTREAM]
        lines.append("")
    if devices is None:
        lines += [f"pattern write {MqttTopic('+', '%u', channel)}" for channel in _UPSTREAM]
        lines += [f"pattern read {MqttTopic('+', '%u', channel)}" for channel in _DOWNSTREAM]
        return "\n".join(lines) + "\n"
    for grant in devices:
        try:
            topics = {ch: mqtt_topic(grant.site, grant.device, ch) for ch in Channel}
        except ValueError as exc:
            raise CredentialError(grant.device, str(exc)) from None
        lines.append(f"user {grant.device}")
        lines += [f"topic write {topics[channel]}" for channel in _UPSTREAM]
        lines += [f"topic read {topics[channel]}" for channel in _DOWNSTREAM]
        lines.append("")
    return "\n".join(lines) + "\n"


def write_acl_file(
    path: Path, *, bridge_users: Iterable[str], devices: Iterable[DeviceGrant] | None = None
) -> Path:
    """Write :func:`render_acl` to ``path`` (mode 0600, replaced atomically)."""
    return write_private_file(path, render_acl(bridge_users=bridge_users, devices=devices))
