"""Password files in Mosquitto 2's format (test_passwd_tool.py checks them against
mosquitto_passwd; test_hardened.py against the running broker)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from broker.errors import CredentialError
from broker.mosquitto import Credential, hash_password, verify_password, write_password_file

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
