"""Password files in Mosquitto 2's format (test_passwd_tool.py checks them against
mosquitto_passwd; test_hardened.py against the running broker)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from broker.errors import CredentialError
from broker.mosquitto import (
    Credential,
    generate_password,
    hash_password,
    password_hash,
    password_line,
    verify_password,
    write_password_file,
    write_password_lines,
)

pytestmark = pytest.mark.unit


def test_password_lines_verify_and_are_salted():
    first = hash_password("pi-1", "secret")
    second = hash_password("pi-1", "secret")
    assert first != second
    assert verify_password(first, "secret")
    assert not verify_password(first, "Secret")


def test_bare_hash_verifies_only_the_right_password():
    """What the device registry stores: the hash without the username."""
    password = generate_password()
    stored = password_hash(password)
    assert stored.startswith("$7$101$")
    assert verify_password(stored, password)
    assert not verify_password(stored, password + "x")
    assert password_hash(password) != stored  # fresh salt each time
    salt = bytes(range(12))
    assert (
        hash_password("pi-07", password, salt=salt) == f"pi-07:{password_hash(password, salt=salt)}"
    )
    assert password_line("pi-07", stored) == f"pi-07:{stored}"


@pytest.mark.parametrize("bad", ["", "two\nlines", "carriage\rreturn"])
def test_hash_refuses_unusable_passwords(bad: str):
    with pytest.raises(ValueError, match="password"):
        password_hash(bad)
    with pytest.raises(CredentialError, match="pi-07") as caught:
        hash_password("pi-07", bad)
    assert caught.value.username == "pi-07"


@pytest.mark.parametrize("stored", ["", "pi-07", "pi-07:plain", "$7$x$AAAA$AAAA", "$7$101$!!$AA"])
def test_unparsable_hashes_match_nothing(stored: str):
    assert not verify_password(stored, "pw")


def test_password_line_refuses_what_is_not_a_hash():
    with pytest.raises(CredentialError, match="\\$7\\$"):
        password_line("pi-07", "plain")
    with pytest.raises(CredentialError):
        password_line("a/b", password_hash("pw"))


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
    with pytest.raises(CredentialError, match="duplicate"):
        write_password_lines(tmp_path / "dup", [hash_password("a", "1"), hash_password("a", "2")])
    assert not (tmp_path / "dup").exists()
    assert "1" not in repr(Credential("a", "1"))
