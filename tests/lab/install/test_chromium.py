"""The chromium component: found where Debian puts it, described with its version."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.install import COMPONENTS, installers
from lab.install.chromium import ChromiumInstaller
from lab.settings import LabSettings

pytestmark = pytest.mark.unit


def test_missing_binary_is_not_installed(tmp_path: Path) -> None:
    installer = ChromiumInstaller(tmp_path / "chromium")
    assert not installer.is_installed()
    assert installer.describe() == f"chromium: missing ({tmp_path / 'chromium'})"


def test_present_binary_is_described_with_its_version(tmp_path: Path) -> None:
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\necho 'Chromium 1.2.3 built on Debian'\n")
    fake.chmod(0o755)
    installer = ChromiumInstaller(fake)
    assert installer.is_installed()
    assert installer.describe() == f"Chromium 1.2.3 built on Debian at {fake}"


def test_lab_install_knows_the_component() -> None:
    assert "chromium" in COMPONENTS
    assert isinstance(installers(LabSettings.load())["chromium"], ChromiumInstaller)
