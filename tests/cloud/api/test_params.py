"""Bad or hostile query parameters get a 400 with a reason, before anything is queried."""

from __future__ import annotations

import pytest

from cloud.api import create_api
from cloud.settings import CloudSettings

from .asgi import get

pytestmark = pytest.mark.unit

# Nothing listens on port 9: a request that got past validation would fail with 503.
APP = create_api(CloudSettings.load(influx_url="http://127.0.0.1:9", kafka_bootstrap="127.0.0.1:9"))


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("/devices?limit=-1", "limit"),
        ("/devices?limit=abc", "limit"),
        ("/devices?limit=99999999999999999999999", "limit"),
        ("/devices?site=lab%22)%20|%3E%20drop()", "site"),
        ("/devices?site=" + "a" * 300, "site"),
        ("/devices?limit=1&limit=2", "limit"),
        ("/devices?bogus=1", "bogus"),
        ("/alerts?state=maybe", "state"),
        ("/alerts?device=../../etc", "device"),
        ("/alerts?since_s=0", "since_s"),
        ("/alerts?since_s=1e309", "since_s"),
        ("/alerts?device=%00", "device"),
        ("/pipeline?x=1", "x"),
        ("/health?x=1", "x"),
    ],
)
async def test_bad_params_are_refused_with_a_reason(target: str, reason: str):
    status, body = await get(APP, target)
    assert status == 400
    assert body["error"] == "bad_request"
    assert body["reason"].startswith(reason)


async def test_unreachable_backends_give_503_not_500():
    status, body = await get(APP, "/devices")
    assert status == 503
    assert "InfluxDB" in body["reason"]


async def test_health():
    assert await get(APP, "/health") == (200, {"status": "ok"})
