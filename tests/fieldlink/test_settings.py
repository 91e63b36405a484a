from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field

from fieldlink.errors import ConfigError
from fieldlink.settings import FieldlinkSettings, SettingsConfigDict

pytestmark = pytest.mark.unit


class Demo(FieldlinkSettings):
    model_config = SettingsConfigDict(env_prefix="FIELDLINK_DEMO_")

    port: int = Field(default=1883, ge=1, le=65535, description="MQTT port.")
    host: str = Field(default="localhost", description="MQTT host.")


def test_defaults() -> None:
    assert Demo.load() == Demo(port=1883, host="localhost")


def test_file_then_environment_then_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    config = tmp_path / "demo.toml"
    config.write_text('port = 1884\nhost = "from-file"\n')
    assert Demo.load(config).port == 1884
    monkeypatch.setenv("FIELDLINK_DEMO_PORT", "1885")
    loaded = Demo.load(config)
    assert (loaded.port, loaded.host) == (1885, "from-file")
    assert Demo.load(config, port=1886).port == 1886


def test_bad_value_names_field_and_file(tmp_path: Path) -> None:
    config = tmp_path / "demo.toml"
    config.write_text("port = 70000\n")
    with pytest.raises(ConfigError) as info:
        Demo.load(config)
    assert info.value.field == "port"
    assert str(config) in str(info.value)
    assert "less than or equal to 65535" in str(info.value)


def test_unknown_key_is_an_error(tmp_path: Path) -> None:
    config = tmp_path / "demo.toml"
    config.write_text("prot = 1\n")
    with pytest.raises(ConfigError, match="prot"):
        Demo.load(config)


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        Demo.load(tmp_path / "absent.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("port = \n")
    with pytest.raises(ConfigError, match="not valid TOML") as info:
        Demo.load(broken)
    assert isinstance(info.value, ValueError)
