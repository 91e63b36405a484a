"""fieldlink: an event-driven IoT edge-to-cloud pipeline.

This package holds what every tier shares: the message contracts and codec
(:mod:`fieldlink.messages`), typed settings (:mod:`fieldlink.settings`), the error hierarchy
(:mod:`fieldlink.errors`) and the ``fieldlink`` command-line root (:mod:`fieldlink.cli`).
The tiers (``edge``, ``broker``, ``cloud``, ``lab``, ``firmware``) import this package and
never each other.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fieldlink")
except PackageNotFoundError:  # running from a source tree that was not pip-installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
