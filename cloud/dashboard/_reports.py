"""The replay reports on disk: ``<reports_dir>/<run>/report.json`` beside ``report.html``.

``fieldlink lab replay`` writes them (``lab/replay/report.py``); the dashboard lists them,
newest first, and serves the folder as static files. A report that cannot be read is listed
with its error rather than hidden, and never breaks the list.

>>> import json, tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> (root / "run-1").mkdir()
>>> _ = (root / "run-1" / "report.json").write_text(json.dumps(
...     {"scenario": {"name": "flaky"}, "mode": "proxy", "verdict": {"ok": True}}))
>>> [(r["path"], r["scenario"], r["ok"]) for r in list_reports(root)]
[('run-1', 'flaky', True)]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["MAX_REPORTS", "list_reports"]

MAX_REPORTS = 500
_DEPTH = 3  # <reports_dir>/<suite>/<scenario>/report.json at most


def _summary(root: Path, path: Path) -> dict[str, Any]:
    folder = path.parent
    entry: dict[str, Any] = {
        "path": folder.relative_to(root).as_posix(),
        "html": (folder / "report.html").is_file(),
        "modified_s": path.stat().st_mtime,
        "scenario": folder.name,
        "ok": None,
        "mode": None,
        "error": None,
    }
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        entry["scenario"] = str(document["scenario"]["name"])
        entry["ok"] = bool(document["verdict"]["ok"])
        entry["mode"] = str(document.get("mode", ""))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        entry["error"] = f"unreadable report.json: {type(exc).__name__}: {exc}"[:300]
    return entry


def list_reports(root: Path | None) -> list[dict[str, Any]]:
    """Reports under ``root``, newest first (at most :data:`MAX_REPORTS`)."""
    if root is None or not root.is_dir():
        return []
    found: list[Path] = []
    for depth in range(1, _DEPTH + 1):
        found += root.glob("/".join(["*"] * depth) + "/report.json")
    resolved = root.resolve()
    inside = [p for p in found if p.resolve().is_relative_to(resolved)]  # no symlinks out
    entries = [_summary(root, p) for p in inside]
    entries.sort(key=lambda e: (-e["modified_s"], e["path"]))
    return entries[:MAX_REPORTS]
