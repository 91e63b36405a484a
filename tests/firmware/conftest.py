"""Firmware fixtures: a synthetic Raspberry Pi OS image and the fieldlink wheel, built once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from firmware.image.synthetic import make_raspios_image
from firmware.image.wheel import build_wheel
from firmware.registry import Registry


@pytest.fixture(scope="session")
def trixie_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_raspios_image(tmp_path_factory.mktemp("base") / "raspios-trixie.img")


@pytest.fixture(scope="session")
def bookworm_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_raspios_image(
        tmp_path_factory.mktemp("base") / "raspios-bookworm.img", release="bookworm"
    )


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real fieldlink wheel of this checkout (``pip wheel --no-deps``)."""
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture
def base_image(trixie_image: Path, tmp_path: Path) -> Path:
    """A private copy of the trixie image, for tests that damage or compare it."""
    copy = tmp_path / "base.img"
    shutil.copyfile(trixie_image, copy)
    return copy


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return Registry(tmp_path / "state")
