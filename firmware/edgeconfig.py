"""The edge agent's config file as written into a device image.

Keys follow ``edge.settings.EdgeSettings`` (``device``, ``site``, ``[mqtt]``,
``[[sensors]]``); :func:`render_edge_config` is the one place that knows them, so a change
in the edge tier's settings is one edit here.

>>> text = render_edge_config(EdgeConfig(device="pi-07", site="farm", mqtt_host="10.0.0.2",
...                                      mqtt_username="pi-07", mqtt_password="pw"))
>>> import tomllib; tomllib.loads(text)["mqtt"]["username"]
'pi-07'
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CONFIG_DIR", "EdgeConfig", "render_edge_config", "toml_dumps"]

CONFIG_DIR = "/etc/fieldlink"
"""Where the first-boot installer puts the config and credentials on the Pi."""


@dataclass(frozen=True, slots=True)
class EdgeConfig:
    """What the image's edge config says; paths are as seen on the Pi."""

    device: str
    site: str
    mqtt_host: str
    mqtt_username: str
    mqtt_password: str
    mqtt_port: int = 1883
    mqtt_tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    sensors: Sequence[Mapping[str, Any]] = field(default=())

    def __repr__(self) -> str:  # never print a password by accident
        return f"EdgeConfig(device={self.device!r}, site={self.site!r}, mqtt_password='***')"


def render_edge_config(config: EdgeConfig) -> str:
    """The TOML text of ``edge.toml`` for ``config``."""
    mqtt: dict[str, Any] = {
        "host": config.mqtt_host,
        "port": config.mqtt_port,
        "username": config.mqtt_username,
        "password": config.mqtt_password,
        "tls": config.mqtt_tls,
    }
    for key in ("ca_file", "cert_file", "key_file"):
        value = getattr(config, key)
        if value is not None:
            mqtt[key] = value
    document: dict[str, Any] = {
        "device": config.device,
        "site": config.site,
        "mqtt": mqtt,
        "sensors": [dict(sensor) for sensor in config.sensors],
    }
    header = (
        f"# fieldlink edge agent config for {config.device}, written by 'fieldlink firmware "
        f"build'.\n# Holds the device's MQTT password: keep it mode 0600.\n\n"
    )
    return header + toml_dumps(document)


def toml_dumps(document: Mapping[str, Any]) -> str:
    """TOML for nested dicts, lists of dicts (arrays of tables) and scalars."""
    lines: list[str] = []
    _table(document, [], lines)
    return "\n".join(lines).strip("\n") + "\n"


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _table(table: Mapping[str, Any], path: list[str], lines: list[str]) -> None:
    for key, value in table.items():
        if value is None or isinstance(value, dict) or _is_table_array(value):
            continue
        lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in table.items():
        if isinstance(value, dict):
            lines += ["", f"[{'.'.join(_key(p) for p in [*path, key])}]"]
            _table(value, [*path, key], lines)
        elif _is_table_array(value):
            for item in value:
                lines += ["", f"[[{'.'.join(_key(p) for p in [*path, key])}]]"]
                _table(item, [*path, key], lines)


def _key(key: str) -> str:
    bare = key and all(c.isalnum() or c in "-_" for c in key)
    return key if bare else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"TOML cannot hold {value!r} here")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON string escapes are valid TOML basic-string escapes
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")
