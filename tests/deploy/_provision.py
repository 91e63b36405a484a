"""Load deploy/compose/provision.py (a script mounted into the provision container, not a
package module) and run it against temporary volumes."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

from .conftest import REPO

SCRIPT = REPO / "deploy" / "compose" / "provision.py"


def load_provision() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fieldlink_compose_provision", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def volumes(root: Path) -> dict[str, str]:
    return {
        "FIELDLINK_STATE_DIR": str(root / "state"),
        "FIELDLINK_FLEET_DIR": str(root / "fleet"),
        "FIELDLINK_BROKER_DIR": str(root / "broker"),
    }


def run_provision(
    root: Path,
    *,
    devices: int,
    bridge_password: str = "bridge-pw",  # noqa: S107 - a throwaway test credential
) -> int:
    """Run the script's main() with the compose service's environment."""
    env = {
        **volumes(root),
        "FIELDLINK_BRIDGE_MQTT_PASSWORD": bridge_password,
        "FIELDLINK_SIM_DEVICES": str(devices),
        "FIELDLINK_SIM_SITE": "lab",
    }
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        result: int = load_provision().main()
        return result
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
