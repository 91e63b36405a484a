"""Load deploy/compose/provision.py (a script mounted into the provision container, not a
package module) and run it against temporary volumes."""

from __future__ import annotations

import getpass
import importlib.util
import os
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from lab.install import mosquitto_binary
from lab.services._process import ManagedProcess, port_open

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


@contextmanager
def serve(root: Path, conf: str, replacements: dict[str, str]) -> Iterator[ManagedProcess]:
    """Run the real Mosquitto on ``conf`` with ``replacements`` applied (container paths,
    ports and user rewritten for this machine); stopped when the block ends."""
    for old, new in replacements.items():
        assert old in conf, old
        conf = conf.replace(old, new)
    root.mkdir(parents=True, exist_ok=True)
    (root / "run.conf").write_text(conf)
    binary = mosquitto_binary()
    assert binary is not None, "run `fieldlink lab install`"
    ports = [int(p) for p in re.findall(r"^listener (\d+) 127\.0\.0\.1$", conf, re.MULTILINE)]
    process = ManagedProcess(
        "mosquitto",
        [binary, "-c", root / "run.conf"],
        run_dir=root,
        ready=lambda: all(port_open("127.0.0.1", port) for port in ports),
        ready_timeout=20,
    )
    with process:
        yield process


def serve_provisioned(root: Path, port: int, tls_port: int) -> AbstractContextManager[Any]:
    """The broker directory `provision` wrote under ``root``, as the compose service runs it."""
    (root / "data").mkdir(exist_ok=True)
    return serve(
        root,
        (root / "broker" / "mosquitto.conf").read_text(),
        {
            "/mosquitto/config": str(root / "broker"),
            "/mosquitto/data": str(root / "data"),
            "user mosquitto": f"user {getpass.getuser()}",
            "listener 1883 0.0.0.0": f"listener {port} 127.0.0.1",
            "listener 8883 0.0.0.0": f"listener {tls_port} 127.0.0.1",
        },
    )
