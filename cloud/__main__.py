"""``python -m cloud``: the same commands as ``fieldlink cloud``."""

from cloud.cli import group

group(prog_name="cloud")
