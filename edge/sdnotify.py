"""systemd's notification protocol (``sd_notify``), without a dependency.

A datagram to the socket named in ``$NOTIFY_SOCKET`` (an abstract socket when it starts
with ``@``). Outside systemd the variable is unset and every call is a no-op.

>>> Notifier(socket_path=None).notify("READY=1")
False
"""

from __future__ import annotations

import logging
import os
import socket

__all__ = ["Notifier"]

logger = logging.getLogger(__name__)


class Notifier:
    def __init__(self, socket_path: str | None = None, *, from_env: bool = False) -> None:
        if from_env:
            socket_path = os.environ.get("NOTIFY_SOCKET")
        if socket_path and socket_path.startswith("@"):
            socket_path = "\0" + socket_path[1:]
        self._path = socket_path or None

    @property
    def enabled(self) -> bool:
        return self._path is not None

    def notify(self, state: str) -> bool:
        """Send ``state`` (e.g. ``READY=1``, ``WATCHDOG=1``); True if it was sent."""
        if self._path is None:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto(state.encode(), self._path)
        except OSError as exc:
            logger.warning("sd_notify %s failed: %s", state, exc)
            return False
        return True
