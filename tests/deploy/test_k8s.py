"""deploy/k8s: built-in kinds against the Kubernetes schemas (kubernetes-validate, strict),
Strimzi resources for the fields the operator requires, and the invariants between them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from broker.mosquitto import BrokerConfig, Profile
from fieldlink.messages import KafkaTopics

from ._settings import load_from_environment
from .conftest import REPO

pytestmark = pytest.mark.unit

K8S = REPO / "deploy" / "k8s"
KUBERNETES = "1.37.0"
STRIMZI = "kafka.strimzi.io/v1beta2"


def kustomization() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return document


def manifests() -> Iterator[tuple[Path, dict[str, Any]]]:
    for name in kustomization()["resources"]:
        path = K8S / name
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                yield path, document


ALL = list(manifests())
BUILT_IN = [(p, d) for p, d in ALL if "strimzi.io" not in d["apiVersion"]]


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [d for _, d in ALL if d["kind"] == kind]


def named(kind: str, name: str) -> dict[str, Any]:
    (found,) = [d for d in of_kind(kind) if d["metadata"]["name"] == name]
    return found


def config_literals() -> dict[str, str]:
    (generator,) = [g for g in kustomization()["configMapGenerator"] if g.get("literals")]
    pairs = (literal.split("=", 1) for literal in generator["literals"])
    return dict(pairs)


def containers() -> Iterator[tuple[str, dict[str, Any]]]:
    for kind in ("Deployment", "StatefulSet"):
        for workload in of_kind(kind):
            for container in workload["spec"]["template"]["spec"]["containers"]:
                yield workload["metadata"]["name"], container


def test_kustomization_lists_every_manifest() -> None:
    listed = {K8S / name for name in kustomization()["resources"]}
    on_disk = {p for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml"}
    assert listed == on_disk
    for generator in kustomization()["configMapGenerator"]:
        for file in generator.get("files", []):
            assert (K8S / file).is_file(), file


@pytest.mark.parametrize(
    ("path", "document"),
    BUILT_IN,
    ids=[f"{p.relative_to(K8S)}:{d['kind']}/{d['metadata']['name']}" for p, d in BUILT_IN],
)
def test_built_in_kinds_pass_schema_validation(path: Path, document: dict[str, Any]) -> None:
    kubernetes_validate.validate(document, KUBERNETES, strict=True)


def test_kafka_is_kraft_with_node_pools() -> None:
    (kafka,) = of_kind("Kafka")
    assert kafka["apiVersion"] == STRIMZI
    annotations = kafka["metadata"]["annotations"]
    assert annotations["strimzi.io/node-pools"] == "enabled"
    assert annotations["strimzi.io/kraft"] == "enabled"
    spec = kafka["spec"]
    assert "zookeeper" not in spec
    assert spec["kafka"]["version"].startswith("3.9.")
    for listener in spec["kafka"]["listeners"]:
        assert {"name", "port", "type", "tls"} <= set(listener)
    assert "topicOperator" in spec["entityOperator"]
    pools = of_kind("KafkaNodePool")
    roles = set()
    for pool in pools:
        assert pool["apiVersion"] == STRIMZI
        assert pool["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
        assert pool["spec"]["replicas"] >= 1
        assert set(pool["spec"]["roles"]) <= {"controller", "broker"}
        assert pool["spec"]["storage"]["type"] in {"jbod", "persistent-claim", "ephemeral"}
        roles |= set(pool["spec"]["roles"])
        if "controller" in pool["spec"]["roles"]:
            assert pool["spec"]["replicas"] % 2 == 1, "a KRaft quorum needs an odd size"
    assert roles == {"controller", "broker"}


def test_topics_are_the_pipelines_with_partition_counts() -> None:
    (kafka,) = of_kind("Kafka")
    brokers = sum(
        p["spec"]["replicas"] for p in of_kind("KafkaNodePool") if "broker" in p["spec"]["roles"]
    )
    min_isr = kafka["spec"]["kafka"]["config"]["min.insync.replicas"]
    topics = of_kind("KafkaTopic")
    for topic in topics:
        assert topic["apiVersion"] == STRIMZI
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
        spec = topic["spec"]
        assert spec["partitions"] >= 1
        assert min_isr < spec["replicas"] <= brokers
    names = {t["spec"]["topicName"] for t in topics}
    assert names == set(KafkaTopics("fieldlink").all())


def test_processor_replicas_are_bounded_by_partitions() -> None:
    topics = {t["spec"]["topicName"]: t["spec"]["partitions"] for t in of_kind("KafkaTopic")}
    telemetry = topics["fieldlink.telemetry"]
    assert topics["fieldlink.status"] == telemetry  # the state table is co-partitioned
    assert topics["fieldlink.telemetry.backlog"] == telemetry
    assert int(config_literals()["TELEMETRY_PARTITIONS"]) == telemetry
    deployment = named("Deployment", "fieldlink-processor")
    autoscaler = named("HorizontalPodAutoscaler", "fieldlink-processor")
    assert autoscaler["spec"]["scaleTargetRef"]["name"] == "fieldlink-processor"
    assert autoscaler["spec"]["maxReplicas"] == telemetry
    assert deployment["spec"]["replicas"] == autoscaler["spec"]["minReplicas"] <= telemetry


def test_secrets_are_referenced_never_embedded() -> None:
    assert not of_kind("Secret")
    referenced = set()
    for _, container in containers():
        for variable in container.get("env", []):
            ref = variable.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                referenced.add((ref["name"], ref["key"]))
    for kind in ("Deployment", "StatefulSet"):
        for workload in of_kind(kind):
            for volume in workload["spec"]["template"]["spec"].get("volumes", []):
                if "secret" in volume:
                    referenced.add((volume["secret"]["secretName"], "*"))
    readme = (K8S / "README.md").read_text()
    for name, key in referenced:
        assert f"secret generic {name}" in readme, name
        if key != "*":
            assert f"--from-literal={key}=" in readme, key


def test_config_map_references_resolve() -> None:
    literals = config_literals()
    for workload, container in containers():
        for variable in container.get("env", []):
            ref = variable.get("valueFrom", {}).get("configMapKeyRef")
            if ref:
                assert ref["name"] == "fieldlink-config", workload
                assert ref["key"] in literals, (workload, ref["key"])


def test_our_containers_run_restricted() -> None:
    for kind in ("Deployment", "StatefulSet"):
        for workload in of_kind(kind):
            pod = workload["spec"]["template"]["spec"]
            assert pod["securityContext"]["runAsNonRoot"] is True
            assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
            for container in pod["containers"]:
                context = container["securityContext"]
                assert context["allowPrivilegeEscalation"] is False
                assert context["capabilities"]["drop"] == ["ALL"]
                assert "resources" in container


def environment(container: dict[str, Any]) -> dict[str, str]:
    """The container's env with ConfigMap values filled in and Secrets as placeholders."""
    literals = config_literals()
    env = {}
    for variable in container["env"]:
        source = variable.get("valueFrom", {})
        if "value" in variable:
            env[variable["name"]] = variable["value"]
        elif "configMapKeyRef" in source:
            env[variable["name"]] = literals[source["configMapKeyRef"]["key"]]
        else:
            env[variable["name"]] = f"<secret {source['secretKeyRef']['key']}>"
    return env


def test_bridge_environment_loads_its_settings() -> None:
    (container,) = named("Deployment", "fieldlink-bridge")["spec"]["template"]["spec"]["containers"]
    settings: Any = load_from_environment("FIELDLINK_BRIDGE_", environment(container))
    assert settings.kafka_bootstrap == "fieldlink-kafka-bootstrap:9092"
    assert settings.mqtt_host == named("Service", "mosquitto")["metadata"]["name"]
    assert settings.share_group == ""
    assert settings.create_topics is False  # Strimzi's topic operator owns the topics
    assert named("Deployment", "fieldlink-bridge")["spec"]["replicas"] == 1
    assert named("Deployment", "fieldlink-bridge")["spec"]["strategy"]["type"] == "Recreate"


@pytest.mark.parametrize("name", ["fieldlink-processor", "fieldlink-api"])
def test_cloud_environment_loads_its_settings(name: str) -> None:
    (container,) = named("Deployment", name)["spec"]["template"]["spec"]["containers"]
    settings: Any = load_from_environment("FIELDLINK_CLOUD_", environment(container))
    assert settings.partitions == int(config_literals()["TELEMETRY_PARTITIONS"])
    assert settings.influx_url == "http://influxdb:8086"


def test_mosquitto_conf_is_the_production_template() -> None:
    conf = (K8S / "broker" / "mosquitto.conf").read_text().splitlines()
    options = BrokerConfig.for_profile(
        Profile.PRODUCTION,
        password_file=Path("/mosquitto/secrets/passwd"),
        acl_file=Path("/mosquitto/secrets/acl"),
        tls=None,
    ).render_options()
    for line in options.splitlines():
        assert line in conf, line
    mounted = {"/mosquitto/secrets/" + key for key in ("ca.crt", "server.crt", "server.key")}
    assert {line.split(" ", 1)[1] for line in conf if line.endswith((".crt", ".key"))} == mounted
