"""The firmware tier's errors: one hierarchy under :class:`FirmwareError`.

Each also subclasses the built-in a caller would expect: an unknown device is a
``KeyError``, a bad image a ``ValueError``, a missing tool or a refused target an ``OSError``.
"""

from __future__ import annotations

from pathlib import Path

from fieldlink.errors import FieldlinkError

__all__ = [
    "DeviceExistsError",
    "DeviceNotFoundError",
    "FirmwareError",
    "FlashError",
    "ImageError",
    "RegistryError",
    "TargetRefusedError",
    "ToolError",
]


class FirmwareError(FieldlinkError):
    """Base class of every error the firmware tier raises on purpose."""


class RegistryError(FirmwareError, ValueError):
    """The device registry file is unreadable or a request on it is invalid."""

    def __init__(self, message: str, *, device: str | None = None):
        self.device = device
        super().__init__(f"{device}: {message}" if device else message)


class DeviceNotFoundError(FirmwareError, KeyError):
    """The device is not in the registry."""

    def __init__(self, device: str, registry: Path):
        self.device = device
        self.registry = registry
        super().__init__(device, registry)

    def __str__(self) -> str:
        return (
            f"device {self.device!r} is not in the registry at {self.registry}; "
            f"add it first with: fieldlink device add {self.device} --site SITE"
        )


class DeviceExistsError(RegistryError):
    """A device with this id is already registered."""


class ImageError(FirmwareError, ValueError):
    """An image is corrupt, truncated, unrecognised or lacks a partition we need."""

    def __init__(self, image: Path | str, message: str):
        self.image = str(image)
        self.detail = message
        super().__init__(f"{image}: {message}")


class ToolError(FirmwareError, OSError):
    """An external tool (mtools, debugfs) is missing or failed."""

    def __init__(self, tool: str, message: str, *, stderr: str = ""):
        self.tool = tool
        self.stderr = stderr
        super().__init__(f"{tool}: {message}" + (f": {stderr.strip()}" if stderr.strip() else ""))


class FlashError(FirmwareError, OSError):
    """Writing or verifying the target failed."""

    def __init__(self, target: Path | str, message: str):
        self.target = str(target)
        self.detail = message
        super().__init__(f"{target}: {message}")


class TargetRefusedError(FlashError):
    """The target failed a safety check (mounted, not removable, too large, not a device).

    ``check`` names the failed check; ``--force`` (or ``allow_file``) overrides it.
    """

    def __init__(self, target: Path | str, check: str, message: str):
        self.check = check
        super().__init__(target, message)
