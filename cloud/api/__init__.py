"""The HTTP API: devices, alerts, pipeline health and Prometheus metrics."""

from ._app import create_api
from ._params import ParamError
from ._reader import Reader

__all__ = ["ParamError", "Reader", "create_api"]
