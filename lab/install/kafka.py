"""Apache Kafka (KRaft) as jars from Maven Central, fetched by a throwaway Maven project."""

from __future__ import annotations

import shutil
import tempfile
from importlib import resources
from pathlib import Path

from ._run import Progress
from .errors import InstallError

__all__ = ["KafkaInstaller"]

_STAMP = ".complete"


class KafkaInstaller:
    name = "kafka"

    def __init__(self, home: Path, version: str):
        self.home = home
        self.version = version

    @property
    def libs(self) -> Path:
        return self.home / "libs"

    def is_installed(self) -> bool:
        stamp = self.home / _STAMP
        return stamp.is_file() and (self.libs / f"kafka_2.13-{self.version}.jar").is_file()

    def describe(self) -> str:
        count = len(list(self.libs.glob("*.jar"))) if self.libs.is_dir() else 0
        return f"Kafka {self.version} (KRaft), {count} jars in {self.libs}"

    def install(self, progress: Progress, log: Path) -> None:
        for tool in ("java", "mvn"):
            if shutil.which(tool) is None:
                raise InstallError(
                    f"{tool} is required to fetch Kafka's jars: install a JDK 17 and Maven "
                    "(Debian: apt-get install openjdk-17-jdk-headless maven)"
                )
        template = resources.files(__package__).joinpath("kafka-pom.xml").read_text()
        self.home.mkdir(parents=True, exist_ok=True)
        staging = self.home / "libs.partial"
        shutil.rmtree(staging, ignore_errors=True)
        with tempfile.TemporaryDirectory(prefix="fieldlink-kafka-pom-") as tmp:
            pom = Path(tmp) / "pom.xml"
            pom.write_text(template.replace("@KAFKA_VERSION@", self.version))
            progress.run(
                f"fetch Kafka {self.version} jars from Maven Central",
                [
                    "mvn",
                    "-B",
                    "-q",
                    "-f",
                    pom,
                    "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies",
                    "-DincludeScope=runtime",
                    f"-DoutputDirectory={staging}",
                ],
                log=log,
            )
        if not (staging / f"kafka_2.13-{self.version}.jar").is_file():
            raise InstallError(f"Maven finished but kafka_2.13-{self.version}.jar is missing")
        shutil.rmtree(self.libs, ignore_errors=True)
        staging.rename(self.libs)
        (self.home / _STAMP).write_text("\n".join(sorted(p.name for p in self.libs.iterdir())))
