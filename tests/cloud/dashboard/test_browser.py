"""The built-in dashboard in a real browser (Debian's Chromium driven by Playwright) against
a running API and worker over the real Kafka and InfluxDB holding a simulated fleet of 200
devices: every page loads without console errors, charts draw the data, a new reading
reaches the live chart, an overheat's alert reaches the feed, replay reports open.

Screenshots go to ``artifacts/screenshots/`` (gitignored) for people to look at.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from fieldlink.messages import DeviceStatus, Reading, ReadingBatch
from lab.install.chromium import CHROMIUM as CHROMIUM_PATH
from lab.replay import InvariantResult, Scenario, Verdict
from lab.replay.report import Timelines, write_report
from lab.services import InfluxServer, KafkaServer, ManagedProcess, free_port, port_open

from ..harness import BOOT, Stack, wait_until
from ..influx_helpers import query
from .simrun import RULES, STEP_S, SimRun, produce_sync, simulate, wait_stored

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = str(CHROMIUM_PATH)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FLEET = 200
SIM_DEVICES = 3
SIM_MINUTES = 10


class Lab:
    """A worker and the API over one simulated run; ``next_seq`` continues each device."""

    def __init__(self, stack: Stack, run: SimRun, url: str):
        self.stack = stack
        self.run = run
        self.url = url
        samples = SIM_MINUTES * 60 // STEP_S
        self.next_seq = {name: 2 * samples for name in run.devices}

    def send(self, device: str, sensor: str, values: list[float], step_s: float = 1.0) -> None:
        """Readings of ``device`` ending now, ``step_s`` apart in event time."""
        now = time.time_ns()
        first = self.next_seq[device]
        readings = tuple(
            Reading(device=device, sensor=sensor, value=v, seq=first + i,
                    ts_ns=now - int((len(values) - 1 - i) * step_s * 1e9))
            for i, v in enumerate(values)
        )  # fmt: skip
        self.next_seq[device] = first + len(values)
        batch = ReadingBatch(device=device, site="lab", boot_id=BOOT, seq_first=first,
                             seq_last=first + len(values) - 1, readings=readings)  # fmt: skip
        # Playwright's sync API runs an event loop in this thread: produce from another one.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, self.stack.produce([batch])).result()

    def stored(self, device: str, sensor: str, value: float) -> bool:
        found = query(
            self.stack.influxdb,
            f'from(bucket: "{self.stack.bucket("raw")}") |> range(start: -1h) '
            f'|> filter(fn: (r) => r._measurement == "reading" and r.device == "{device}" '
            f'and r.sensor == "{sensor}" and r._field == "value" and r._value == {value})',
        )
        return bool(found)


def _rest_of_fleet(now_ns: int) -> tuple[list[ReadingBatch], list[DeviceStatus]]:
    """Devices beyond the simulated few: a status and two readings each."""
    batches, statuses = [], []
    for d in range(SIM_DEVICES, FLEET):
        name = f"pi-{d}"
        readings = tuple(
            Reading(device=name, sensor="temp", value=20.0 + d % 7, seq=s,
                    ts_ns=now_ns - (2 - s) * 10**9)
            for s in range(2)
        )  # fmt: skip
        batches.append(ReadingBatch(device=name, site=f"site-{d % 4}", boot_id=BOOT,
                                    seq_first=0, seq_last=1, readings=readings))  # fmt: skip
        statuses.append(DeviceStatus(device=name, site=f"site-{d % 4}", boot_id=BOOT,
                                     ts_ns=now_ns, online=True, buffer_depth=d % 13))  # fmt: skip
    return batches, statuses


async def _produce_rest(stack: Stack) -> None:
    from aiokafka import AIOKafkaProducer

    from fieldlink.messages import encode

    batches, statuses = _rest_of_fleet(time.time_ns())
    await stack.produce(batches)
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka.bootstrap_servers, acks="all")
    await producer.start()
    try:
        sent = [await producer.send(stack.topics.status, key=s.device.encode(), value=encode(s))
                for s in statuses]  # fmt: skip
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def _write_report(reports: Path) -> None:
    scenario = Scenario.load(ROOT / "lab" / "scenarios" / "broker-restart-during-partition.yaml")
    verdict = Verdict((InvariantResult("no_loss", True, "every reading stored", {"lost": 0}),))
    steps = range(0, 300, 10)
    timelines = Timelines(
        buffer_depth={"pi-0": [(t, float(t % 100)) for t in steps]},
        ingest_rate=[(t, 100.0) for t in steps],
        consumer_lag=[(t, 3.0) for t in steps],
        live_latency_ms=[(t, 40.0) for t in steps],
    )
    write_report(reports / "run-1" / scenario.name, scenario, verdict, timelines, mode="proxy")


@pytest.fixture(scope="module")
def lab(
    kafka: KafkaServer, influxdb: InfluxServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Lab]:
    name = f"b{secrets.token_hex(5)}"
    stack = Stack(kafka, influxdb, name)
    asyncio.run(stack.create_topics())
    run = simulate(devices=SIM_DEVICES, minutes=SIM_MINUTES)
    base = tmp_path_factory.mktemp("dash")
    reports = base / "reports"
    _write_report(reports)
    port = free_port()
    env = {
        **stack.env(),
        "FIELDLINK_CLOUD_ALERTS": json.dumps(RULES),
        "FIELDLINK_CLOUD_API_PORT": str(port),
        "FIELDLINK_CLOUD_REPORTS_DIR": str(reports),
        "FIELDLINK_CLOUD_LAG_RECORD_INTERVAL_S": "5",
    }
    api = ManagedProcess(
        "api",
        [sys.executable, "-m", "cloud", "api"],
        run_dir=base / "api",
        ready=lambda: port_open("127.0.0.1", port),
        ready_timeout=60,
        env=env,
        stop_timeout=15,
    )
    (base / "api").mkdir()
    with stack.worker(base / "worker", FIELDLINK_CLOUD_ALERTS=json.dumps(RULES)), api:
        produce_sync(stack, run)
        asyncio.run(_produce_rest(stack))
        wait_stored(stack, run, more=2 * (FLEET - SIM_DEVICES))
        yield Lab(stack, run, f"http://127.0.0.1:{port}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class Console:
    """Errors the page logged or threw, and the requests it made."""

    def __init__(self, page: Page):
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("request", lambda request: self.requests.append(request.url))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text} at {message.location}")


@pytest.fixture
def page(browser: Browser, lab: Lab) -> Iterator[tuple[Page, Console]]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    console = Console(tab)
    try:
        yield tab, console
    finally:
        context.close()


def _shot(tab: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_fleet_page_shows_all_200_devices_from_one_request(
    lab: Lab, page: tuple[Page, Console]
) -> None:
    tab, console = page
    tab.goto(f"{lab.url}/ui/")
    tab.wait_for_function(f"document.querySelectorAll('#fleet tbody tr').length === {FLEET}")
    assert tab.inner_text("#n-devices") == str(FLEET)
    hot = tab.locator('#fleet tr[data-device="pi-2"]')
    assert "online" in hot.inner_text()
    tab.fill("#filter", "site-3")
    tab.wait_for_function("document.querySelectorAll('#fleet tbody tr').length === 50")
    tab.fill("#filter", "")
    tab.select_option("#sort", "backlog")
    _shot(tab, "fleet")
    api_calls = [u for u in console.requests if "/devices" in u]
    assert len(api_calls) <= 2, api_calls  # one per refresh, never one per device
    assert console.errors == []


def test_device_page_charts_and_a_new_reading_arrives_live(
    lab: Lab, page: tuple[Page, Console]
) -> None:
    tab, console = page
    tab.goto(f"{lab.url}/ui/device.html?device=pi-0")
    tab.wait_for_function(
        "['temp', 'hum'].every(s => window.flCharts[s] && window.flCharts[s].xs.length > 100)"
    )
    assert tab.locator(".chart canvas").count() == 2
    counts = tab.evaluate("Object.values(window.flCharts).map(c => c.plot.data[0].length)")
    assert min(counts) >= SIM_MINUTES * 60 // STEP_S - 5
    tab.wait_for_function("document.getElementById('live').textContent.startsWith('live')")

    lab.send("pi-0", "hum", [77.125])
    wait_until(lambda: lab.stored("pi-0", "hum", 77.125), 60, "the new reading in InfluxDB")
    # Stored: the page's event stream must show it within 5 s.
    tab.wait_for_function("window.flCharts.hum.ys.includes(77.125)", timeout=5000)
    assert tab.evaluate("window.flCharts.hum.plot.data[1].includes(77.125)")
    _shot(tab, "device-live")
    assert console.errors == []


def test_an_overheat_alert_appears_in_the_feed(lab: Lab, page: tuple[Page, Console]) -> None:
    tab, console = page
    tab.goto(f"{lab.url}/ui/alerts.html")
    tab.wait_for_selector('#feed tr[data-state="open"]')  # the simulated run's overheat
    assert tab.locator('#feed tr[data-device="pi-1"]').count() >= 1
    assert tab.locator('#feed tr[data-device="pi-2"]').count() == 0

    lab.send("pi-2", "temp", [95.0] * 8)
    tab.wait_for_selector('#feed tr[data-device="pi-2"][data-state="open"]', timeout=60_000)
    row = tab.locator('#feed tr[data-device="pi-2"]').first.inner_text()
    assert "overheat" in row
    assert "temp" in row
    _shot(tab, "alerts")
    assert console.errors == []


def test_reports_are_listed_and_open(lab: Lab, page: tuple[Page, Console]) -> None:
    tab, console = page
    tab.goto(f"{lab.url}/ui/reports.html")
    link = tab.locator("#reports a", has_text="open report")
    link.wait_for()
    assert "PASS" in tab.inner_text("#reports tbody")
    _shot(tab, "reports")
    link.click()
    tab.wait_for_selector("#verdict")
    assert tab.inner_text("#verdict") == "PASS"
    tab.wait_for_selector("#timelines .main-svg")  # plotly drew the timelines
    _shot(tab, "report")
    assert console.errors == []


def test_bad_addresses_say_why_in_the_page(lab: Lab, page: tuple[Page, Console]) -> None:
    tab, console = page
    tab.goto(f"{lab.url}/ui/device.html?device=../../etc")
    tab.wait_for_function("document.getElementById('status').className.includes('error')")
    assert "no such device" in tab.inner_text("#status")
    response = tab.request.get(f"{lab.url}/devices/pi-0/series?minutes=-5")
    body: Any = response.json()
    assert response.status == 400
    assert body["reason"].startswith("minutes")
    assert console.errors == []
