"""Our password hashing agrees with Mosquitto's own tool, byte for byte."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest

from broker.mosquitto import hash_password, password_hash, verify_password
from lab.install.mosquitto import mosquitto_binary

pytestmark = pytest.mark.integration


def test_our_hash_matches_mosquitto_passwd(tmp_path: Path):
    binary = mosquitto_binary("mosquitto_passwd")
    assert binary is not None, "run 'fieldlink lab install'"
    path = tmp_path / "passwd"
    subprocess.run([binary, "-c", "-b", path, "pi-1", "s3cret"], check=True)
    line = path.read_text().strip()
    assert verify_password(line, "s3cret")
    salt = line.split("$")[3]
    ours = hash_password("pi-1", "s3cret", salt=base64.b64decode(salt))
    assert ours == line


def test_bare_hash_matches_mosquitto_passwd_format(tmp_path: Path):
    """mosquitto_passwd writes the same $7$ layout (iterations, salt and hash lengths) as the
    bare hash the device registry stores."""
    binary = mosquitto_binary("mosquitto_passwd")
    assert binary is not None, "run 'fieldlink lab install'"
    passwd = tmp_path / "passwd"
    passwd.touch()
    subprocess.run([binary, "-b", passwd, "pi-07", "s3cret"], check=True)
    stored = passwd.read_text().strip().partition(":")[2]
    theirs = stored.split("$")
    ours = password_hash("s3cret").split("$")
    assert [len(p) for p in theirs] == [len(p) for p in ours]
    assert theirs[:3] == ours[:3]
    assert verify_password(stored, "s3cret")
    assert password_hash("s3cret", salt=base64.b64decode(theirs[3])) == stored
