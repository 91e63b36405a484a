"""The pages only load assets that exist locally, and the vendored uPlot is the version its
README states (no CDN, no hand-drawn canvas code)."""

from __future__ import annotations

import re

import pytest

from cloud.dashboard import STATIC_DIR

pytestmark = pytest.mark.unit


def test_pages_reference_only_local_assets_that_exist() -> None:
    pages = sorted(STATIC_DIR.glob("*.html"))
    assert {p.name for p in pages} == {"index.html", "device.html", "alerts.html", "reports.html"}
    for page in pages:
        text = page.read_text()
        refs = re.findall(r'(?:src|href)="([^"]+)"', text)
        assert refs, page
        for ref in refs:
            assert ref.startswith("/ui/"), (page.name, ref)
            if not ref.endswith("/") and not ref.endswith(".html"):
                assert (STATIC_DIR / ref.removeprefix("/ui/")).is_file(), (page.name, ref)


def test_vendored_uplot_matches_its_readme() -> None:
    vendor = STATIC_DIR / "vendor"
    banner = (vendor / "uPlot.iife.min.js").read_text()[:80]
    version = re.search(r"\(v(\d+\.\d+\.\d+)\)", banner)
    assert version is not None
    readme = (vendor / "README.md").read_text()
    assert f"| {version.group(1)} | MIT" in readme
    assert "MIT License" in (vendor / "LICENSE.uPlot").read_text()


def test_charts_are_drawn_by_uplot_not_by_hand() -> None:
    for script in STATIC_DIR.glob("*.js"):
        assert "getContext(" not in script.read_text(), script.name
    assert "new uPlot(" in (STATIC_DIR / "device.js").read_text()
