"""Query parameters: validated strictly, refused with a reason (HTTP 400), never a 500.

Names go into Flux queries, so only the fieldlink name pattern is accepted.

>>> parse({"limit": "5"}, DeviceQuery).limit
5
>>> parse({"limit": "-1"}, DeviceQuery)
Traceback (most recent call last):
...
cloud.api._params.ParamError: limit: Input should be greater than or equal to 1
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fieldlink.errors import FieldlinkError

__all__ = ["AlertQuery", "DeviceQuery", "ParamError", "parse"]

_NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"


class ParamError(FieldlinkError, ValueError):
    """A query parameter is missing, unknown or invalid; ``reason`` says which and why."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeviceQuery(_Query):
    site: str | None = Field(default=None, pattern=_NAME)
    limit: int = Field(default=500, ge=1, le=10_000)


class AlertQuery(_Query):
    state: Literal["open", "all"] = "all"
    device: str | None = Field(default=None, pattern=_NAME)
    since_s: int = Field(default=7 * 86400, ge=1, le=400 * 86400)
    limit: int = Field(default=200, ge=1, le=10_000)


Q = TypeVar("Q", bound=_Query)


def parse(params: Mapping[str, str] | object, model: type[Q]) -> Q:
    items = list(params.multi_items()) if hasattr(params, "multi_items") else []
    if not items and isinstance(params, Mapping):
        items = list(params.items())
    seen: dict[str, str] = {}
    for key, value in items:
        if key in seen:
            raise ParamError(f"{key}: given more than once")
        if len(value) > 256:
            raise ParamError(f"{key}: longer than 256 characters")
        seen[key] = value
    try:
        return model.model_validate(seen)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "query"
        raise ParamError(f"{where}: {first['msg']}") from None
