"""InfluxDB 2.x built from source fetched through the Go module proxy.

``go install github.com/influxdata/influxdb/v2/cmd/influxd@VERSION`` is refused because
InfluxDB's go.mod has replace directives, so we build through a small wrapper module:

1. download the influxdb module and copy its ``replace`` lines into the wrapper's go.mod;
2. copy the flux module it requires into the build directory and point a replace at the
   copy, patched so its Rust part (libflux) builds on a current toolchain: drop
   ``rust-toolchain.toml`` (it pins an old compiler) and the default ``strict`` feature
   (``deny(warnings)`` fails on newer lints);
3. build libflux through ``github.com/influxdata/pkg-config`` (``PKG_CONFIG`` points at it;
   it runs cargo, with crates from the crate registry) and ``go build`` influxd without the
   ``assets`` tag: API only, no UI.

The first build takes 20-40 minutes on two cores; the binary is cached and never rebuilt
while it is present.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from ._run import Progress
from .errors import InstallError

__all__ = ["InfluxInstaller"]

_MODULE = "github.com/influxdata/influxdb/v2"


class InfluxInstaller:
    name = "influxdb"

    def __init__(self, binary: Path, version: str, build_root: Path):
        self.binary = binary
        self.version = version
        self.build_dir = build_root / f"influxdb-{version.lstrip('v')}"

    def installed_version(self) -> str | None:
        if not os.access(self.binary, os.X_OK):
            return None
        try:
            out = subprocess.run(
                [self.binary, "version"], capture_output=True, text=True, timeout=30, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        match = re.search(r"InfluxDB (v\S+)", out.stdout)
        return match.group(1) if match else None

    def is_installed(self) -> bool:
        return self.installed_version() == self.version

    def describe(self) -> str:
        return f"InfluxDB {self.installed_version() or '(missing)'} at {self.binary}"

    def install(self, progress: Progress, log: Path) -> None:
        for tool, hint in (("go", "Go 1.24+"), ("cargo", "Rust (rustup)"), ("cc", "a C compiler")):
            if shutil.which(tool) is None:
                raise InstallError(f"building InfluxDB needs {hint}: '{tool}' is not on PATH")
        work = self.build_dir
        work.mkdir(parents=True, exist_ok=True)
        env = {"GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local", "GOBIN": str(work / "bin")}

        influx_dir = self._download(_MODULE, self.version, work, env)
        gomod = (influx_dir / "go.mod").read_text()
        go_line = re.search(r"^go (\S+)$", gomod, re.M)
        replaces = re.findall(r"^replace .+$", gomod, re.M)
        flux_version = self._required(gomod, "github.com/influxdata/flux")
        pkgconfig_version = self._required(gomod, "github.com/influxdata/pkg-config")

        flux_src = self._download("github.com/influxdata/flux", flux_version, work, env)
        flux_copy = work / "flux"
        if not (flux_copy / ".fieldlink-patched").is_file():
            progress.say(f"  patching a copy of flux {flux_version} for the current Rust")
            shutil.rmtree(flux_copy, ignore_errors=True)
            shutil.copytree(flux_src, flux_copy)
            for path in flux_copy.rglob("*"):
                path.chmod(path.stat().st_mode | 0o200)
            flux_copy.chmod(flux_copy.stat().st_mode | 0o200)
            _patch_flux(flux_copy)

        (work / "go.mod").write_text(
            "module fieldlink.local/influxd-build\n\n"
            f"go {go_line.group(1) if go_line else '1.23'}\n\n"
            + "\n".join(replaces)
            + "\n\nreplace github.com/influxdata/flux => ./flux\n"
        )
        progress.run(
            f"resolve InfluxDB {self.version} dependencies",
            ["go", "get", f"{_MODULE}/cmd/influxd@{self.version}"],
            log=log,
            cwd=work,
            env=env,
        )
        progress.run(
            f"install pkg-config {pkgconfig_version} (drives the libflux cargo build)",
            ["go", "install", f"github.com/influxdata/pkg-config@{pkgconfig_version}"],
            log=log,
            cwd=work,
            env=env,
        )
        self.binary.parent.mkdir(parents=True, exist_ok=True)
        partial = self.binary.with_suffix(".partial")
        progress.run(
            f"build influxd {self.version} (libflux in Rust, then Go; 20-40 min the first time)",
            [
                "go",
                "build",
                "-tags",
                "sqlite_foreign_keys,sqlite_json",
                "-ldflags",
                f"-s -w -X main.version={self.version} -X main.commit=fieldlink",
                "-o",
                partial,
                f"{_MODULE}/cmd/influxd",
            ],
            log=log,
            cwd=work,
            env={**env, "PKG_CONFIG": str(work / "bin" / "pkg-config")},
        )
        partial.rename(self.binary)
        if not self.is_installed():
            raise InstallError(f"built {self.binary} but it does not report {self.version}")
        # The cargo target directory is several GB; Go's build cache keeps rebuilds quick.
        shutil.rmtree(work, ignore_errors=True)

    @staticmethod
    def _required(gomod: str, module: str) -> str:
        match = re.search(rf"^\s*{re.escape(module)} (v\S+)", gomod, re.M)
        if not match:
            raise InstallError(f"InfluxDB's go.mod does not require {module}")
        return match.group(1)

    @staticmethod
    def _download(module: str, version: str, cwd: Path, env: dict[str, str]) -> Path:
        out = subprocess.run(
            ["go", "mod", "download", "-json", f"{module}@{version}"],
            cwd=cwd,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=False,
        )
        try:
            info = json.loads(out.stdout)
        except json.JSONDecodeError:
            info = {}
        if out.returncode != 0 or "Dir" not in info:
            detail = info.get("Error") or out.stderr.strip() or out.stdout.strip()
            raise InstallError(f"go mod download {module}@{version} failed: {detail}")
        return Path(info["Dir"])


def _patch_flux(flux: Path) -> None:
    for toolchain in flux.rglob("rust-toolchain*"):
        toolchain.unlink()
    for cargo_toml in (flux / "libflux").glob("*/Cargo.toml"):
        text = cargo_toml.read_text()
        patched = re.sub(
            r"^default = \[(.*)\]$",
            lambda m: (
                "default = ["
                + ", ".join(f for f in m.group(1).split(", ") if f.strip() and f != '"strict"')
                + "]"
            ),
            text,
            flags=re.M,
        )
        cargo_toml.write_text(patched)
    (flux / ".fieldlink-patched").write_text("rust-toolchain removed; strict feature dropped\n")
