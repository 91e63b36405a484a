"""Calling an ASGI app in-process, the way an HTTP server would (no client library needed)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit


async def get(app: Any, target: str) -> tuple[int, Any]:
    url = urlsplit(target)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": url.path,
        "raw_path": url.path.encode(),
        "query_string": url.query.encode(),
        "headers": [(b"host", b"test")],
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
        "root_path": "",
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    headers = dict(next(m["headers"] for m in sent if m["type"] == "http.response.start"))
    if b"json" in headers.get(b"content-type", b""):
        return status, json.loads(body)
    return status, body.decode()
