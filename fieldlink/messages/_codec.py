"""Turning messages into bytes and back.

A codec is chosen by name (``json`` today). JSON payloads always start with ``{``; a future
compact binary codec will start with a magic byte that can never begin JSON, so
:func:`decode` can tell them apart without out-of-band metadata.

Decoding never raises anything but :class:`~fieldlink.errors.DecodeError`, whose ``reason``
is what the bridge puts on a dead letter.
"""

from __future__ import annotations

from typing import Any, Final, Protocol, TypeVar, get_args, overload

import orjson
from pydantic import BaseModel, TypeAdapter, ValidationError

from fieldlink.errors import DecodeError, DecodeReason

from ._models import SCHEMA_VERSION, Message

__all__ = [
    "DEFAULT_MAX_PAYLOAD_BYTES",
    "Codec",
    "JsonCodec",
    "decode",
    "encode",
    "get_codec",
]

DEFAULT_MAX_PAYLOAD_BYTES: Final = 256 * 1024
"""Largest payload accepted by default: a 1,000-reading batch is about 150 KiB of JSON."""

M = TypeVar("M", bound=BaseModel)

_MESSAGE_ADAPTER: TypeAdapter[Message] = TypeAdapter(Message)
_MESSAGE_TYPES: Final = frozenset(get_args(get_args(Message)[0]))


class Codec(Protocol):
    """What every codec offers. Implementations are stateless and thread-safe."""

    name: str
    content_type: str

    def encode(self, message: BaseModel) -> bytes: ...

    def decode(self, data: bytes, max_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES) -> Message: ...


def _summarize(error: ValidationError, limit: int = 3) -> str:
    parts = []
    for item in error.errors(include_url=False)[:limit]:
        location = ".".join(str(part) for part in item["loc"]) or "<root>"
        parts.append(f"{location}: {item['msg']}")
    more = error.error_count() - limit
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


class JsonCodec:
    """UTF-8 JSON through orjson.

    >>> from fieldlink.messages import RequestStatus, Command
    >>> codec = JsonCodec()
    >>> cmd = Command(command_id="c1", device="pi-1", site="lab", ts_ns=0, body=RequestStatus())
    >>> codec.decode(codec.encode(cmd)) == cmd
    True
    """

    name = "json"
    content_type = "application/json"

    def encode(self, message: BaseModel) -> bytes:
        return orjson.dumps(message.model_dump(mode="json", exclude_defaults=False))

    def decode(self, data: bytes, max_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES) -> Message:
        size = len(data)
        if size > max_bytes:
            raise DecodeError(
                DecodeReason.OVERSIZED, f"payload exceeds the {max_bytes}-byte limit", size=size
            )
        try:
            raw: Any = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise DecodeError(DecodeReason.MALFORMED, f"not JSON: {exc}", size=size) from None
        if not isinstance(raw, dict):
            raise DecodeError(
                DecodeReason.MALFORMED,
                f"expected a JSON object, got {type(raw).__name__}",
                size=size,
            )
        version = raw.get("v")
        if not isinstance(version, int) or isinstance(version, bool):
            raise DecodeError(
                DecodeReason.INVALID, "missing or non-integer schema version 'v'", size=size
            )
        if version != SCHEMA_VERSION:
            raise DecodeError(
                DecodeReason.UNSUPPORTED_VERSION,
                f"schema version {version} is not supported (this release reads {SCHEMA_VERSION})",
                size=size,
            )
        try:
            return _MESSAGE_ADAPTER.validate_python(raw)
        except ValidationError as exc:
            raise DecodeError(DecodeReason.INVALID, _summarize(exc), size=size) from None


_CODECS: dict[str, Codec] = {"json": JsonCodec()}


def get_codec(name: str = "json") -> Codec:
    """The codec registered under ``name``; raises ``KeyError`` listing the known names."""
    try:
        return _CODECS[name]
    except KeyError:
        raise KeyError(f"unknown codec {name!r}; known: {', '.join(sorted(_CODECS))}") from None


def encode(message: BaseModel, codec: str = "json") -> bytes:
    """Encode any fieldlink message with the named codec."""
    return get_codec(codec).encode(message)


@overload
def decode(data: bytes, expect: None = None, *, max_bytes: int = ...) -> Message: ...
@overload
def decode(data: bytes, expect: type[M], *, max_bytes: int = ...) -> M: ...


def decode(
    data: bytes, expect: type[M] | None = None, *, max_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
) -> Message | M:
    """Decode a payload, picking the codec from its first byte.

    With ``expect``, a well-formed message of another type is refused with reason
    ``wrong_type`` (a status payload on a telemetry topic, say).
    """
    if expect in _MESSAGE_TYPES and len(data) <= max_bytes:
        # Fast path for the hot case (a valid message of the expected type): pydantic parses
        # and validates the bytes in one pass. Anything it refuses goes the long way below,
        # which names the precise reason.
        try:
            return expect.model_validate_json(data)  # type: ignore[union-attr]
        except ValidationError:
            pass
    message = _CODECS["json"].decode(data, max_bytes)
    if expect is not None and not isinstance(message, expect):
        raise DecodeError(
            DecodeReason.WRONG_TYPE,
            f"expected {expect.__name__}, got {type(message).__name__}",
            size=len(data),
        )
    return message
