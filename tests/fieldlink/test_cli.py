from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from fieldlink.cli import cli

pytestmark = pytest.mark.unit


def test_help_lists_tiers_without_importing_them() -> None:
    code = (
        "import sys; from click.testing import CliRunner; from fieldlink.cli import cli;"
        "r = CliRunner().invoke(cli, ['--help']); print(r.output);"
        "print('IMPORTED' if {'lab', 'faust', 'aiokafka'} & set(sys.modules) else 'LAZY')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "lab" in out.stdout
    assert out.stdout.strip().endswith("LAZY")


def test_lab_help_explains_install() -> None:
    result = CliRunner().invoke(cli, ["lab", "install", "--help"])
    assert result.exit_code == 0
    assert "Idempotent" in result.output
    assert "--only" in result.output


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("fieldlink, version ")
