"""Routes of the built-in dashboard: its pages, chart data, live events and reports.

Pages are static files under ``/ui/``; every figure they show comes from one request per
view (the fleet page asks ``/devices`` once for all devices), never one per device.
"""

from __future__ import annotations

import re
import time
from typing import Any

from pydantic import Field
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from cloud.dashboard import STATIC_DIR, Series, list_reports, live_events
from cloud.settings import CloudSettings

from ._params import _NAME, ParamError, _Query, parse
from ._reader import Reader

__all__ = ["dashboard_routes"]

_DEVICE = re.compile(_NAME)
_MAX_NS = 2**63 - 1


class SeriesQuery(_Query):
    minutes: int = Field(default=15, ge=1, le=7 * 24 * 60)


class LiveQuery(_Query):
    since_ns: int | None = Field(default=None, ge=0, le=_MAX_NS)


class NoQuery(_Query):
    pass


def _device(request: Request) -> str:
    name = str(request.path_params["device"])
    if not _DEVICE.fullmatch(name):
        raise ParamError("device: must match " + _NAME)
    return name


def _resume_from(request: Request, since_ns: int | None) -> int:
    """A reconnecting EventSource sends the last id it saw; it wins over the URL's value."""
    header = request.headers.get("last-event-id", "")
    if header.isdigit() and len(header) <= 19 and int(header) <= _MAX_NS:
        return int(header)
    return since_ns if since_ns is not None else time.time_ns()


class _Reports(StaticFiles):
    """The reports folder; 404 with a reason when none is configured."""

    def __init__(self, settings: CloudSettings):
        self.configured = settings.reports_dir is not None
        super().__init__(directory=settings.reports_dir or STATIC_DIR, check_dir=False)

    async def get_response(self, path: str, scope: Any) -> Response:
        if not self.configured:
            return JSONResponse(
                {"error": "not_found", "reason": "no reports_dir configured"}, status_code=404
            )
        return await super().get_response(path, scope)


def dashboard_routes(settings: CloudSettings, reader: Reader, guarded: Any) -> list[BaseRoute]:
    """``guarded`` turns ParamError into 400 and UpstreamError into 503 (see ``_app``)."""
    series = Series(reader._flux, settings.bucket("raw"))

    async def home(request: Request) -> Response:
        return RedirectResponse("/ui/", status_code=307)

    async def favicon(request: Request) -> Response:
        # Pages not ours (the replay reports) make the browser ask for /favicon.ico.
        return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml")

    async def history(request: Request) -> Response:
        device = _device(request)
        q = parse(request.query_params, SeriesQuery)
        return JSONResponse(await series.history(device, q.minutes))

    async def live(request: Request) -> Response:
        device = _device(request)
        q = parse(request.query_params, LiveQuery)
        stream = live_events(
            series, device, _resume_from(request, q.since_ns), poll_s=settings.live_poll_s
        )
        return StreamingResponse(
            stream,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    async def reports(request: Request) -> Response:
        parse(request.query_params, NoQuery)
        return JSONResponse(
            {
                "configured": settings.reports_dir is not None,
                "reports": list_reports(settings.reports_dir),
            }
        )

    return [
        Route("/", home),
        Route("/favicon.ico", favicon),
        Route("/devices/{device}/series", guarded(history)),
        Route("/devices/{device}/live", guarded(live)),
        Route("/reports", guarded(reports)),
        Mount("/reports/files", app=_Reports(settings), name="report_files"),
        Mount("/ui", app=StaticFiles(directory=STATIC_DIR, html=True), name="ui"),
    ]
