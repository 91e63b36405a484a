"""Raspberry Pi OS images customised without mounting: MBR, mtools, debugfs."""

from .builder import BuildRequest, BuildResult, build_image
from .partitions import Partition, read_partitions

__all__ = ["BuildRequest", "BuildResult", "Partition", "build_image", "read_partitions"]
