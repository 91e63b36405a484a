"""The agent's counters and gauges in Prometheus text exposition format.

>>> print(render({"fieldlink_edge_buffer_depth": (7, "gauge", "Readings buffered.")}), end="")
# HELP fieldlink_edge_buffer_depth Readings buffered.
# TYPE fieldlink_edge_buffer_depth gauge
fieldlink_edge_buffer_depth 7
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["render", "write_atomically"]

Metric = tuple[float | Mapping[str, float], str, str]
"""(value, or {label_value: value} for a ``reason``-labelled family; type; help)."""


def render(metrics: Mapping[str, Metric], label: str = "reason") -> str:
    lines: list[str] = []
    for name, (value, kind, help_text) in metrics.items():
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        if isinstance(value, Mapping):
            lines += [f'{name}{{{label}="{key}"}} {v:g}' for key, v in sorted(value.items())]
        else:
            lines.append(f"{name} {value:g}")
    return "\n".join(lines) + "\n"


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` so a scraper never reads half a file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
