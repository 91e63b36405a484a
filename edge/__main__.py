"""``python -m edge run --config edge.toml``: the agent without the ``fieldlink`` root."""

from .cli import group

group(prog_name="python -m edge")
