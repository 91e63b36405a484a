"""The dashboard's routes refuse bad or hostile parameters with a 4xx and a reason, serve
the pages and the vendored chart library, and list and serve replay reports safely."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cloud.api import create_api
from cloud.settings import CloudSettings

from .asgi import get

pytestmark = pytest.mark.unit

# An InfluxDB nobody listens on: these requests must be refused before any query.
SETTINGS = dict(influx_url="http://127.0.0.1:9", kafka_bootstrap="127.0.0.1:9")


@pytest.mark.parametrize(
    "target",
    [
        "/devices/Pi-1/series",
        "/devices/pi%201/series",
        "/devices/" + "p" * 100 + "/series",
        '/devices/pi"%29%20|%3E%20drop()/live',
        "/devices/pi-1/series?minutes=0",
        "/devices/pi-1/series?minutes=abc",
        "/devices/pi-1/series?minutes=99999999",
        "/devices/pi-1/series?minutes=5&minutes=6",
        "/devices/pi-1/series?bucket=raw",
        "/devices/pi-1/live?since_ns=-1",
        "/devices/pi-1/live?since_ns=99999999999999999999999",
        "/devices/pi-1/live?since_ns=" + "9" * 300,
        "/reports?limit=1",
    ],
)
async def test_bad_parameters_are_a_400_with_a_reason(target: str) -> None:
    status, body = await get(create_api(CloudSettings.load(**SETTINGS)), target)
    assert status == 400, body
    assert body["error"] == "bad_request"
    assert body["reason"]


async def test_pages_and_vendored_uplot_are_served() -> None:
    app = create_api(CloudSettings.load(**SETTINGS))
    status, _ = await get(app, "/")
    assert status == 307
    for page in ("/ui/", "/ui/device.html", "/ui/alerts.html", "/ui/reports.html"):
        status, body = await get(app, page)
        assert status == 200, page
        assert "<header>" in body
    status, body = await get(app, "/ui/vendor/uPlot.iife.min.js")
    assert status == 200
    assert "uPlot" in body
    status, _ = await get(app, "/ui/../_app.py")
    assert status == 404


async def test_reports_without_a_directory_are_an_empty_list_and_404() -> None:
    app = create_api(CloudSettings.load(**SETTINGS))
    status, body = await get(app, "/reports")
    assert (status, body) == (200, {"configured": False, "reports": []})
    status, body = await get(app, "/reports/files/run/report.html")
    assert status == 404
    assert body["reason"] == "no reports_dir configured"


async def test_reports_are_listed_newest_first_and_served_inside_the_folder(
    tmp_path: Path,
) -> None:
    reports = tmp_path / "reports"
    for name, ok in (("suite/flaky", True), ("partition", False)):
        folder = reports / name
        folder.mkdir(parents=True)
        document = {"scenario": {"name": name.split("/")[-1]}, "mode": "proxy",
                    "verdict": {"ok": ok}}  # fmt: skip
        (folder / "report.json").write_text(json.dumps(document))
        (folder / "report.html").write_text(f"<h1>{name}</h1>")
    (reports / "broken").mkdir()
    (reports / "broken" / "report.json").write_text("{not json")
    (tmp_path / "secret.txt").write_text("not for the web")
    app = create_api(CloudSettings.load(**SETTINGS, reports_dir=reports))
    status, body = await get(app, "/reports")
    assert status == 200
    listed = {r["path"]: (r["scenario"], r["ok"], r["html"]) for r in body["reports"]}
    assert listed == {
        "suite/flaky": ("flaky", True, True),
        "partition": ("partition", False, True),
        "broken": ("broken", None, False),
    }
    assert next(r for r in body["reports"] if r["path"] == "broken")["error"]
    status, page = await get(app, "/reports/files/suite/flaky/report.html")
    assert (status, page) == (200, "<h1>suite/flaky</h1>")
    for hostile in ("/reports/files/../secret.txt", "/reports/files/%2e%2e/secret.txt",
                    "/reports/files/..%2Fsecret.txt"):  # fmt: skip
        status, _ = await get(app, hostile)
        assert status == 404, hostile


@pytest.mark.parametrize(
    "target",
    [
        "/ui/%00",
        "/ui/a%00b.js",
        "/ui/..%5c..%5cetc",
        "/ui/" + "a/" * 2000,
        "/reports/files/%00",
        "/reports/files/" + "a" * 5000,
        "/reports/files/x/../../",
        "/devices/..%2F..%2Fetc/series",
    ],
)
async def test_hostile_paths_are_a_404_never_a_500(target: str, tmp_path: Path) -> None:
    app = create_api(CloudSettings.load(**SETTINGS, reports_dir=tmp_path))
    status, _ = await get(app, target)
    assert status == 404
