"""Starlette routes: each validates its parameters, asks the reader, returns JSON; and the
built-in dashboard (``/ui/``, see :mod:`cloud.api._dashboard`).

>>> from cloud.settings import CloudSettings
>>> app = create_api(CloudSettings.load())
>>> sorted(route.path for route in app.routes)  # doctest: +NORMALIZE_WHITESPACE
['/', '/alerts', '/devices', '/devices/{device}/live', '/devices/{device}/series',
 '/favicon.ico', '/health', '/metrics', '/pipeline', '/reports', '/reports/files', '/ui']
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from cloud.settings import CloudSettings

from ._dashboard import dashboard_routes
from ._lag import LagRecorder
from ._metrics import render
from ._params import AlertQuery, DeviceQuery, ParamError, parse
from ._reader import Reader, UpstreamError

__all__ = ["create_api"]

logger = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]


def _guarded(handler: Handler) -> Handler:
    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except ParamError as exc:
            return JSONResponse({"error": "bad_request", "reason": exc.reason}, status_code=400)
        except UpstreamError as exc:
            logger.warning("%s %s: %s", request.method, request.url.path, exc)
            return JSONResponse({"error": "unavailable", "reason": str(exc)}, status_code=503)

    return run


def create_api(
    settings: CloudSettings, *, reader: Reader | None = None, record_lag: bool = True
) -> Starlette:
    """The app; while it runs (its lifespan) it records the consumer lag into InfluxDB every
    ``settings.lag_record_interval_s`` unless that is 0 or ``record_lag`` is False."""
    data = reader or Reader(settings)

    async def health(request: Request) -> Response:
        parse(request.query_params, _NoParams)
        return JSONResponse({"status": "ok"})

    async def devices(request: Request) -> Response:
        q = parse(request.query_params, DeviceQuery)
        return JSONResponse({"devices": await data.devices(q.site, q.limit)})

    async def alerts(request: Request) -> Response:
        q = parse(request.query_params, AlertQuery)
        return JSONResponse({"alerts": await data.alerts(q.state, q.device, q.since_s, q.limit)})

    async def pipeline(request: Request) -> Response:
        parse(request.query_params, _NoParams)
        return JSONResponse(await _pipeline(data))

    async def metrics(request: Request) -> Response:
        parse(request.query_params, _NoParams)
        return PlainTextResponse(
            render(await _pipeline(data)), media_type="text/plain; version=0.0.4"
        )

    routes: list[BaseRoute] = [
        Route(path, _guarded(handler))
        for path, handler in (
            ("/health", health),
            ("/devices", devices),
            ("/alerts", alerts),
            ("/pipeline", pipeline),
            ("/metrics", metrics),
        )
    ]
    routes += dashboard_routes(settings, data, _guarded)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        interval = settings.lag_record_interval_s
        if not (record_lag and interval > 0):
            yield
            return
        recorder = LagRecorder(settings, reader=data)
        task = asyncio.create_task(recorder.run(interval))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await recorder.sink.close()

    return Starlette(routes=routes, lifespan=lifespan)


async def _pipeline(data: Reader) -> dict[str, Any]:
    workers = await data.workers()
    try:
        lag: dict[str, int] | None = await data.consumer_lag()
        lag_error = None
    except UpstreamError as exc:
        lag, lag_error = None, str(exc)
    total = {
        key: sum(w.get(key, 0) for w in workers)
        for key in (
            "records",
            "readings_fresh",
            "duplicates",
            "missing",
            "too_late",
            "dead_letters",
            "rejected_writes",
            "write_retries",
            "alerts",
        )
    }
    return {
        "consumer_lag": lag,
        "consumer_lag_total": sum(lag.values()) if lag is not None else None,
        "consumer_lag_error": lag_error,
        "totals": total,
        "workers": workers,
    }


from ._params import _Query  # noqa: E402 - the empty query model lives beside the others


class _NoParams(_Query):
    pass
