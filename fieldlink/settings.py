"""Typed settings: a TOML file, overridden by environment variables, validated once.

Every tier declares a subclass of :class:`FieldlinkSettings` with its own ``env_prefix`` and a
description on each field, and loads it once at its entry point with :meth:`load`. A bad value
fails right there with the field and the file named, never later in the middle of a run.

>>> from pydantic import Field
>>> class Demo(FieldlinkSettings):
...     model_config = SettingsConfigDict(env_prefix="FIELDLINK_DEMO_")
...     port: int = Field(default=1883, description="MQTT port.")
>>> Demo.load().port
1883
"""

from __future__ import annotations

import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Self

from pydantic import ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from fieldlink.errors import ConfigError

__all__ = ["FieldlinkSettings", "SettingsConfigDict"]

_toml_path: ContextVar[Path | None] = ContextVar("_toml_path", default=None)


class FieldlinkSettings(BaseSettings):
    """Base class of every tier's settings. Unknown keys are errors, not silently ignored."""

    model_config = SettingsConfigDict(
        extra="forbid", validate_default=True, env_nested_delimiter="__"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Precedence: explicit arguments, then the environment, then the TOML file.
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _toml_path.get()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @classmethod
    def load(cls, path: Path | str | None = None, **overrides: Any) -> Self:
        """Load from ``path`` (TOML, optional) and the environment; raise :class:`ConfigError`.

        The error names every offending field and where it was read from.
        """
        file = Path(path) if path is not None else None
        if file is not None:
            if not file.is_file():
                raise ConfigError("settings file not found", source=file)
            try:
                tomllib.loads(file.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise ConfigError(f"not valid TOML: {exc}", source=file) from None
        token = _toml_path.set(file)
        try:
            return cls(**overrides)
        except ValidationError as exc:
            prefix = cls.model_config.get("env_prefix", "")
            source = f"{file} (or {prefix}* environment variables)" if file else "environment"
            problems = []
            first_field = None
            for error in exc.errors(include_url=False):
                field = ".".join(str(part) for part in error["loc"])
                first_field = first_field or field
                problems.append(f"{field}: {error['msg']}")
            raise ConfigError("; ".join(problems), field=first_field, source=source) from None
        finally:
            _toml_path.reset(token)
