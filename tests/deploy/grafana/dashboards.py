"""The committed Grafana dashboards, their panels' queries, and Grafana's macro filling."""

from __future__ import annotations

import importlib.util
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

GRAFANA = Path(__file__).resolve().parents[3] / "deploy" / "grafana"
DASHBOARDS = GRAFANA / "dashboards"


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("grafana_generate", GRAFANA / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((DASHBOARDS / name).read_text())
    return document


@dataclass(frozen=True)
class Query:
    dashboard: str
    title: str
    kind: str  # panel type, "annotation" or "variable"
    flux: str
    columns: tuple[str, ...]
    repeat: str | None

    @property
    def id(self) -> str:
        return f"{self.dashboard}:{self.title}"


def queries() -> list[Query]:
    """Every Flux query of every dashboard: panels, annotations and variables."""
    out = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        board = load(path.name)
        for panel in board["panels"]:
            columns: tuple[str, ...] = ()
            for step in panel.get("transformations", []):
                if step["id"] == "organize":
                    columns = tuple(step["options"]["indexByName"])
            for target in panel["targets"]:
                out.append(Query(path.stem, panel["title"], panel["type"], target["query"],
                                 columns, panel.get("repeat")))  # fmt: skip
        for note in board["annotations"]["list"]:
            if "target" in note:
                out.append(Query(path.stem, note["name"], "annotation", note["target"]["query"],
                                 ("time", "text", "tags"), None))  # fmt: skip
        for variable in board["templating"]["list"]:
            if variable["type"] == "query":
                out.append(Query(path.stem, variable["name"], "variable", variable["query"],
                                 ("_value",), None))  # fmt: skip
    return out


def _time(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def fill(flux: str, variables: dict[str, str], start_ns: int, stop_ns: int, window: str) -> str:
    """What Grafana sends: template variables replaced in the browser (``${name}`` and
    ``${name:regex}``), then the Flux macros replaced by its InfluxDB data source with
    literals (RFC 3339 times, the interval as a duration in ms)."""

    def variable(match: re.Match[str]) -> str:
        name, fmt = match.group(1), match.group(2)
        value = variables[name]
        return re.escape(value) if fmt == "regex" else value

    text = re.sub(r"\$\{(\w+)(?::(\w+))?\}", variable, flux)
    text = text.replace("v.timeRangeStart", _time(start_ns))
    text = text.replace("v.timeRangeStop", _time(stop_ns))
    text = text.replace("v.windowPeriod", window)
    assert "${" not in text, text
    assert not re.search(r"\bv\.\w", text), text
    return text
