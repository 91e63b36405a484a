"""Calling the ASGI app in-process like a server would, including streamed responses (which
wait for ``http.disconnect``: it is sent once the response is complete)."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import unquote, urlsplit


async def get(app: Any, target: str) -> tuple[int, Any]:
    url = urlsplit(target)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": unquote(url.path),  # servers decode the path, as uvicorn does
        "raw_path": url.path.encode(),
        "query_string": url.query.encode(),
        "headers": [(b"host", b"test")],
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
        "root_path": "",
    }
    sent: list[dict[str, Any]] = []
    done = asyncio.Event()
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    await asyncio.wait_for(app(scope, receive, send), 30)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    if b"json" in dict(start["headers"]).get(b"content-type", b""):
        return start["status"], json.loads(body)
    return start["status"], body.decode()
