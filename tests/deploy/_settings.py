"""Check a container's environment against the settings class its command loads."""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from fieldlink.settings import FieldlinkSettings

SETTINGS = {  # env prefix -> the settings class that reads it
    "FIELDLINK_BRIDGE_": "broker.bridge.settings:BridgeSettings",
    "FIELDLINK_CLOUD_": "cloud.settings:CloudSettings",
}


def settings_class(prefix: str) -> type[FieldlinkSettings]:
    module, _, name = SETTINGS[prefix].partition(":")
    cls: type[FieldlinkSettings] = getattr(importlib.import_module(module), name)
    return cls


@contextmanager
def only_environment(env: Mapping[str, str]) -> Iterator[None]:
    """Run with exactly ``env`` as the FIELDLINK_* environment."""
    saved = {key: value for key, value in os.environ.items() if key.startswith("FIELDLINK_")}
    for key in saved:
        del os.environ[key]
    os.environ.update(env)
    try:
        yield
    finally:
        for key in env:
            os.environ.pop(key, None)
        os.environ.update(saved)


def load_from_environment(prefix: str, env: Mapping[str, Any]) -> FieldlinkSettings:
    """Every ``prefix`` key names a field of the class; the class loads from them alone
    (so every field without a default is set, and every value validates)."""
    cls = settings_class(prefix)
    ours = {key: str(value) for key, value in env.items() if key.startswith(prefix)}
    assert ours, f"no {prefix}* variables"
    unknown = sorted(
        key for key in ours if key[len(prefix) :].split("__")[0].lower() not in cls.model_fields
    )
    assert not unknown, f"{cls.__name__} has no field for {unknown}"
    required = {name for name, field in cls.model_fields.items() if field.is_required()}
    given = {key[len(prefix) :].split("__")[0].lower() for key in ours}
    assert required <= given, f"{cls.__name__} needs {sorted(required - given)}"
    with only_environment(ours):
        return cls.load()
