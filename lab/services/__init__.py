"""Supervised servers for the lab and the integration tests.

>>> from lab.settings import LabSettings
>>> from pathlib import Path
>>> settings = LabSettings()
>>> with KafkaServer(Path("/tmp/run/kafka"), home=settings.kafka_home) as kafka:  # doctest: +SKIP
...     print(kafka.bootstrap_servers)
"""

from ._process import ManagedProcess, ServiceError, free_port, port_open
from ._server import Server
from .influxdb import InfluxCredentials, InfluxServer
from .kafka import KafkaServer
from .mosquitto import MosquittoServer

__all__ = [
    "InfluxCredentials",
    "InfluxServer",
    "KafkaServer",
    "ManagedProcess",
    "MosquittoServer",
    "Server",
    "ServiceError",
    "free_port",
    "port_open",
]
