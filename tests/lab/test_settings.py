"""Lab settings: where reports go."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.settings import LabSettings

pytestmark = pytest.mark.unit


def test_reports_dir_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIELDLINK_REPORTS_DIR", str(tmp_path / "r"))
    assert LabSettings.load().reports_dir == tmp_path / "r"


def test_new_report_dir_never_reuses_a_folder(tmp_path: Path) -> None:
    lab = LabSettings.load(reports_dir=tmp_path)
    first = lab.new_report_dir("replay")
    first.mkdir()
    second = lab.new_report_dir("replay")
    assert first.parent == second.parent == tmp_path
    assert first.name.startswith("replay-")
    assert second != first
    assert not second.exists()
