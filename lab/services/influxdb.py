"""InfluxDB 2 built by ``lab install``, onboarded with an org, a bucket and a token."""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from ._process import ManagedProcess, ServiceError, free_port
from ._server import Server

__all__ = ["InfluxCredentials", "InfluxServer"]


@dataclass(frozen=True)
class InfluxCredentials:
    org: str
    bucket: str
    token: str
    username: str
    password: str


class InfluxServer(Server):
    """``influxd`` on loopback, API only (built without the UI assets).

    On first start it is onboarded through ``POST /api/v2/setup``; the credentials are kept
    in the run directory so a restart over the same data reuses them.
    """

    name = "influxdb"

    def __init__(
        self,
        run_dir: Path,
        *,
        binary: Path,
        port: int | None = None,
        host: str = "127.0.0.1",
        org: str = "fieldlink",
        bucket: str = "raw",
    ):
        super().__init__(run_dir, host)
        self.binary = binary
        self.port = port or free_port(host)
        self._org = org
        self._bucket = bucket
        self._credentials: InfluxCredentials | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def credentials(self) -> InfluxCredentials:
        if self._credentials is None:
            raise ServiceError("InfluxDB has not been started and onboarded yet")
        return self._credentials

    @property
    def _credentials_path(self) -> Path:
        return self.run_dir / "credentials.json"

    def _prepare(self) -> None:
        (self.run_dir / "data").mkdir(parents=True, exist_ok=True)

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:  # noqa: S310 - our own loopback URL
                body = json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError):
            return False
        return bool(body.get("status") == "pass")

    def _request(self, method: str, path: str, body: object | None = None) -> dict[str, object]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - our own loopback URL
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                result: dict[str, object] = json.loads(response.read() or b"{}")
                return result
        except urllib.error.HTTPError as exc:
            raise ServiceError(
                f"InfluxDB {method} {path}: HTTP {exc.code}: {exc.read()[:500]!r}"
            ) from exc

    def _after_start(self) -> None:
        if self._credentials_path.is_file():
            self._credentials = InfluxCredentials(**json.loads(self._credentials_path.read_text()))
            return
        if not self._request("GET", "/api/v2/setup").get("allowed"):
            raise ServiceError(
                f"InfluxDB in {self.run_dir} is already set up but {self._credentials_path} "
                "is missing; remove the run directory to start afresh"
            )
        credentials = InfluxCredentials(
            org=self._org,
            bucket=self._bucket,
            token=secrets.token_urlsafe(32),
            username="fieldlink",
            password=secrets.token_urlsafe(16),
        )
        self._request(
            "POST",
            "/api/v2/setup",
            {
                "org": credentials.org,
                "bucket": credentials.bucket,
                "token": credentials.token,
                "username": credentials.username,
                "password": credentials.password,
            },
        )
        self._credentials_path.write_text(json.dumps(asdict(credentials)))
        self._credentials_path.chmod(0o600)
        self._credentials = credentials

    def _make_process(self) -> ManagedProcess:
        data = self.run_dir / "data"
        return ManagedProcess(
            self.name,
            [
                self.binary,
                f"--bolt-path={data / 'influxd.bolt'}",
                f"--engine-path={data / 'engine'}",
                f"--sqlite-path={data / 'influxd.sqlite'}",
                f"--http-bind-address={self.host}:{self.port}",
                "--reporting-disabled",
                "--log-level=warn",
            ],
            run_dir=self.run_dir,
            ready=self._healthy,
            ready_timeout=60,
        )
