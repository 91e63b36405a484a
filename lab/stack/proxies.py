"""Fault proxies run on one asyncio loop in a background thread.

The lab's control code is synchronous (it sleeps through a fault timeline); each device that
reaches the broker through a :class:`~lab.network.FaultProxy` gets one on this loop, and the
timeline changes its faults from the main thread.

>>> with ProxyLoop() as loop:                                      # doctest: +SKIP
...     host, port = loop.add("dev-000", target=("127.0.0.1", 1883))
...     loop.set_faults("dev-000", Faults(latency_ms=200))
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, Self, TypeVar

from lab.network import FaultProxy, Faults

__all__ = ["ProxyLoop"]

T = TypeVar("T")


class ProxyLoop:
    """Owns a thread, an event loop and the proxies on it; ``close()`` stops them all."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="proxies", daemon=True)
        self._thread.start()
        self._proxies: dict[str, FaultProxy] = {}

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def add(
        self, name: str, *, target: tuple[str, int], listen_host: str = "127.0.0.1", seed: int = 0
    ) -> tuple[str, int]:
        """Start a proxy to ``target``; returns the address clients connect to."""
        proxy = FaultProxy(target, listen=(listen_host, 0), seed=seed)
        self._call(proxy.start())
        self._proxies[name] = proxy
        return proxy.address

    def set_faults(self, name: str, faults: Faults) -> None:
        proxy = self._proxies[name]
        self._loop.call_soon_threadsafe(proxy.set_faults, faults)

    def faults(self, name: str) -> Faults:
        return self._proxies[name].faults

    def __contains__(self, name: object) -> bool:
        return name in self._proxies

    def close(self) -> None:
        for proxy in self._proxies.values():
            self._call(proxy.stop())
        self._proxies.clear()
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
