from __future__ import annotations

from pathlib import Path

import pytest

from broker.bridge.metrics import BridgeMetrics
from broker.bridge.service import Bridge
from broker.bridge.settings import BridgeSettings
from fieldlink.errors import ConfigError

pytestmark = pytest.mark.unit


def test_toml_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    config = tmp_path / "bridge.toml"
    config.write_text(
        'mqtt_port = 1999\ntopic_prefix = "site-a"\n[telemetry_topic]\n'
        "partitions = 12\nretention_ms = 1000\n"
    )
    monkeypatch.setenv("FIELDLINK_BRIDGE_MQTT_PORT", "2000")
    settings = BridgeSettings.load(config)
    assert settings.mqtt_port == 2000
    assert settings.topic_specs()["site-a.telemetry"].partitions == 12
    assert settings.topic_specs()["site-a.telemetry"].retention_ms == 1000
    specs = settings.topic_specs()
    assert specs["site-a.telemetry.backlog"] == specs["site-a.telemetry"]
    assert set(settings.topic_specs()) == set(settings.kafka_topics.all())


def test_bad_setting_names_the_field_and_the_file(tmp_path: Path):
    config = tmp_path / "bridge.toml"
    config.write_text("max_payload_bytes = 10\n")
    with pytest.raises(ConfigError) as caught:
        BridgeSettings.load(config)
    assert caught.value.field == "max_payload_bytes"
    assert str(config) in str(caught.value)


def test_unknown_keys_are_errors(tmp_path: Path):
    config = tmp_path / "bridge.toml"
    config.write_text("mqtt_prot = 1\n")
    with pytest.raises(ConfigError):
        BridgeSettings.load(config)


def test_subscriptions_shared_or_plain():
    shared = Bridge(BridgeSettings.load(share_group="g"))
    assert shared.subscriptions() == [
        "$share/g/fieldlink/+/+/telemetry",
        "$share/g/fieldlink/+/+/status",
    ]
    plain = Bridge(BridgeSettings.load(share_group=""))
    assert plain.subscriptions() == ["fieldlink/+/+/telemetry", "fieldlink/+/+/status"]


def test_metrics_render_in_prometheus_text_format():
    from prometheus_client import generate_latest

    metrics = BridgeMetrics()
    metrics.messages.labels(channel="telemetry").inc(3)
    metrics.deadletters.labels(reason="impersonation").inc()
    metrics.produce_latency.observe(0.004)
    text = generate_latest(metrics.registry).decode()
    assert 'fieldlink_bridge_messages_total{channel="telemetry"} 3.0' in text
    assert 'fieldlink_bridge_deadletters_total{reason="impersonation"} 1.0' in text
    assert "fieldlink_bridge_produce_latency_seconds_bucket" in text
