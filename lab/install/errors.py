from __future__ import annotations

from fieldlink.errors import FieldlinkError

__all__ = ["InstallError"]


class InstallError(FieldlinkError, RuntimeError):
    """A server could not be installed; the message says why and where the full log is."""
