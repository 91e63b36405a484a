"""Time on a device without a real-time clock.

A Pi boots with whatever time fake-hwclock saved (or 1970) and only learns the real time
once NTP disciplines the kernel clock. The kernel says whether it has: ``adjtimex`` returns
``TIME_ERROR`` and sets ``STA_UNSYNC`` while the clock is not synchronized. Every reading
records the monotonic clock too, so readings taken before sync can be re-stamped once the
offset between the two clocks is known: ``ts_ns = mono_ns + (wall_ns - mono_ns at sync)``.

>>> clock = ManualClock(wall_ns=0, mono_ns=100, synced=False)
>>> tracker = SyncTracker(clock)
>>> tracker.poll() is None
True
>>> clock.set(wall_ns=1_700_000_000_000_000_000, synced=True)
>>> tracker.poll() == 1_700_000_000_000_000_000 - 100
True
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import time
from typing import Final, Protocol

__all__ = [
    "Clock",
    "ManualClock",
    "SimulatedClock",
    "SyncTracker",
    "SystemClock",
    "TrustedClock",
    "kernel_clock_synced",
]

logger = logging.getLogger(__name__)

_TIME_ERROR: Final = 5
_STA_UNSYNC: Final = 0x0040


class _Timeval(ctypes.Structure):
    _fields_ = (("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long))


class _Timex(ctypes.Structure):
    """``struct timex`` from <sys/timex.h> (Linux, LP64 and ILP32 alike)."""

    _fields_ = (
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time", _Timeval),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("_reserved", ctypes.c_int * 11),
    )


_libc: ctypes.CDLL | None = None


def kernel_clock_synced() -> bool:
    """Ask the kernel (``adjtimex`` with ``modes = 0``, read-only, no privileges needed)."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    timex = _Timex()
    state = _libc.adjtimex(ctypes.byref(timex))
    if state == -1:
        raise OSError(ctypes.get_errno(), "adjtimex failed")
    return state != _TIME_ERROR and not timex.status & _STA_UNSYNC


class Clock(Protocol):
    """Where the agent gets time from; injected so tests and simulations control it."""

    def wall_ns(self) -> int: ...

    def mono_ns(self) -> int: ...

    def synced(self) -> bool: ...


class SystemClock:
    """The real clocks; synchronization as the kernel reports it."""

    def wall_ns(self) -> int:
        return time.time_ns()

    def mono_ns(self) -> int:
        return time.monotonic_ns()

    def synced(self) -> bool:
        return kernel_clock_synced()


class TrustedClock(SystemClock):
    """The real clocks, assumed synchronized: for laptops and containers whose clock is
    disciplined by the host, where the kernel's own flag stays 'unsynced'."""

    def synced(self) -> bool:
        return True


class SimulatedClock(SystemClock):
    """A Pi without RTC: for the first ``unsynced_for_s`` seconds it reads ~1970 (the
    monotonic clock) and reports unsynced; then the real time, synced."""

    def __init__(self, unsynced_for_s: float) -> None:
        self._sync_at_ns = time.monotonic_ns() + int(unsynced_for_s * 1e9)

    def synced(self) -> bool:
        return time.monotonic_ns() >= self._sync_at_ns

    def wall_ns(self) -> int:
        return time.time_ns() if self.synced() else time.monotonic_ns()


class ManualClock:
    """A clock set by hand, for tests."""

    def __init__(self, *, wall_ns: int = 0, mono_ns: int = 0, synced: bool = True) -> None:
        self._wall_ns = wall_ns
        self._mono_ns = mono_ns
        self._synced = synced

    def set(
        self, *, wall_ns: int | None = None, mono_ns: int | None = None, synced: bool | None = None
    ) -> None:
        if wall_ns is not None:
            self._wall_ns = wall_ns
        if mono_ns is not None:
            self._mono_ns = mono_ns
        if synced is not None:
            self._synced = synced

    def advance(self, seconds: float) -> None:
        step = int(seconds * 1e9)
        self._wall_ns += step
        self._mono_ns += step

    def wall_ns(self) -> int:
        return self._wall_ns

    def mono_ns(self) -> int:
        return self._mono_ns

    def synced(self) -> bool:
        return self._synced


class SyncTracker:
    """Watches for the clock becoming synchronized.

    :meth:`poll` returns the wall-minus-monotonic offset exactly once, on the poll that first
    sees the clock synced after it was not; the caller re-stamps what was sampled before.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._synced = clock.synced()

    @property
    def synced(self) -> bool:
        return self._synced

    def poll(self) -> int | None:
        if self._synced:
            return None
        if not self._clock.synced():
            return None
        self._synced = True
        offset = self._clock.wall_ns() - self._clock.mono_ns()
        logger.info("clock synchronized; re-stamping with offset %d ns", offset)
        return offset
