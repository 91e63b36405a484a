"""``fieldlink cloud`` is mounted, and bad settings fail at start naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cloud.settings import CloudSettings
from fieldlink.cli import cli
from fieldlink.errors import ConfigError

pytestmark = pytest.mark.unit


def test_cloud_group_lists_worker_and_api():
    result = CliRunner().invoke(cli, ["cloud", "--help"])
    assert result.exit_code == 0, result.output
    assert "worker" in result.output
    assert "api" in result.output


def test_bad_rule_in_the_file_names_field_and_file(tmp_path: Path):
    config = tmp_path / "cloud.toml"
    config.write_text(
        '[[alerts.rules]]\nkind = "threshold"\nname = "hot"\nsensor = "t"\nclear = 1\n'
    )
    with pytest.raises(ConfigError) as info:
        CloudSettings.load(config)
    assert str(config) in str(info.value)
    assert "alerts.rules" in str(info.value)
    assert "exactly one of 'above' and 'below'" in str(info.value)


def test_duplicate_window_widths_are_refused():
    with pytest.raises(ConfigError, match="window_widths_s"):
        CloudSettings.load(window_widths_s=(60, 60))


def test_worker_with_a_bad_config_exits_with_the_reason(tmp_path: Path):
    config = tmp_path / "cloud.toml"
    config.write_text("partitions = 0\n")
    result = CliRunner().invoke(cli, ["cloud", "worker", "--config", str(config)])
    assert result.exit_code != 0
    assert "partitions" in result.output
