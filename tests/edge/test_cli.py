from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from edge.buffer import SqliteBuffer
from fieldlink.cli import cli
from fieldlink.messages import Reading

pytestmark = pytest.mark.unit


def test_status_inspects_a_buffer_file(tmp_path: Path) -> None:
    path = tmp_path / "b.sqlite3"
    with SqliteBuffer(path, device="pi-07", max_bytes=64 * 1024) as buffer:
        buffer.append(
            [
                Reading(device="pi-07", sensor="t", value=1.0, ts_ns=10**18, seq=s)
                for s in range(2000)
            ]
        )
    result = CliRunner().invoke(cli, ["edge", "status", "--buffer", str(path)])
    assert result.exit_code == 0, result.output
    assert "device:    pi-07" in result.output
    assert "seq range: " in result.output
    assert "..1999" in result.output
    assert "next seq:  2000" in result.output
    assert "buffer_full=" in result.output


def test_run_with_a_bad_config_names_field_and_file(tmp_path: Path) -> None:
    path = tmp_path / "edge.toml"
    path.write_text('device = "pi-07"\n[mqtt]\nport = "x"\n')
    result = CliRunner().invoke(cli, ["edge", "run", "--config", str(path)])
    assert result.exit_code == 1
    assert str(path) in result.output
    assert "mqtt.port" in result.output


def test_status_shows_the_simulation_record_when_present(tmp_path: Path) -> None:
    path = tmp_path / "b.sqlite3"
    with SqliteBuffer(path, device="pi-07", record=True) as buffer:
        buffer.append(
            [Reading(device="pi-07", sensor="t", value=1.0, ts_ns=10**18, seq=s) for s in range(5)]
        )
        buffer.commit()
        buffer.mark_published(range(5))
    result = CliRunner().invoke(cli, ["edge", "status", "--buffer", str(path)])
    assert result.exit_code == 0, result.output
    assert "depth:     0 readings" in result.output
    assert "recorded:  5 readings generated (seqs 0..4)" in result.output
