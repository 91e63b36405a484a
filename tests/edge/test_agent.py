"""The agent as a real process against the real Mosquitto: nothing sampled is lost.

Each test subscribes first (QoS1, persistent session), runs the simulated agent as a
subprocess, stops it gracefully, then checks that every seq the agent ever allocated
arrived: exact set equality, every seq carried by a single boot id (no seq reused), and the
duplicate count reported.
"""

from __future__ import annotations

import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.publish as publish
import pytest

from edge.agent import Agent
from edge.buffer import read_counters, read_generated
from edge.settings import EdgeSettings
from fieldlink.messages import (
    Alert,
    AlertState,
    Channel,
    Command,
    DeviceStatus,
    Quality,
    RequestStatus,
    SetSampleRate,
    decode,
    encode,
    mqtt_topic,
)
from lab.services import MosquittoServer

from ._mqtt import Collector, agent_config, agent_process, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[MosquittoServer]:
    with MosquittoServer(tmp_path / "mosquitto") as server:
        yield server


def buffer_state(path: Path) -> tuple[int, int]:
    """(next seq, depth) of a stopped agent's buffer."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        next_seq = db.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()[0]
        depth = db.execute("SELECT count(*) FROM readings").fetchone()[0]
    return int(next_seq), int(depth)


def assert_all_delivered(
    collector: Collector, buffer: Path, record: pytest.RecordProperty, boots: int = 1
) -> None:
    next_seq, depth = buffer_state(buffer)
    assert depth == 0, f"{depth} readings still buffered after a graceful stop"
    expected = set(range(next_seq))
    wait_for(lambda: collector.seqs() >= expected, 60, f"all {next_seq} seqs")
    assert collector.seqs() == expected
    reused = {s: b for s, b in collector.boots_per_seq().items() if len(b) > 1}
    assert reused == {}, "a seq was used by two boots"
    assert len({boot for boot, _ in collector.received}) == boots
    record("readings", next_seq)
    record("duplicates", collector.duplicates())
    print(f"delivered {next_seq} seqs, {collector.duplicates()} duplicates")


def test_every_seq_is_delivered_with_qos1_and_none_with_an_unsynced_time(
    mosquitto: MosquittoServer, unique: str, tmp_path: Path, record_property: pytest.RecordProperty
) -> None:
    collector = Collector(mosquitto, mqtt_topic("lab", unique, Channel.TELEMETRY), f"{unique}-c")
    # A Pi without RTC: the clock reads ~1970 and is unsynchronized for the first 2 seconds.
    config = agent_config(tmp_path, mosquitto, unique, extra="simulated_unsynced_s = 2\n")
    started_ns = time.time_ns()
    try:
        with agent_process(config, tmp_path / "agent"):
            wait_for(lambda: len(collector.seqs()) >= 500, 60, "500 readings")
        assert_all_delivered(collector, tmp_path / f"{unique}.sqlite3", record_property)
        restamped = [r for r in collector.readings if Quality.RESTAMPED in r.quality]
        assert restamped, "readings from before the sync were re-stamped"
        assert not [r for r in collector.readings if Quality.CLOCK_UNSYNCED in r.quality]
        assert min(r.ts_ns for r in collector.readings) > started_ns - 10**9, "nothing in 1970"
        assert max(r.ts_ns for r in restamped) < time.time_ns()
    finally:
        collector.close()


def test_broker_restart_mid_stream_loses_nothing(
    private_broker: MosquittoServer,
    unique: str,
    tmp_path: Path,
    record_property: pytest.RecordProperty,
) -> None:
    topic = mqtt_topic("lab", unique, Channel.TELEMETRY)
    collector = Collector(private_broker, topic, f"{unique}-c")
    agent = agent_process(agent_config(tmp_path, private_broker, unique), tmp_path / "agent")
    try:
        with agent:
            wait_for(lambda: len(collector.seqs()) >= 200, 60, "200 readings")
            private_broker.restart()
            before = len(collector.seqs())
            wait_for(lambda: len(collector.seqs()) >= before + 300, 60, "300 more readings")
        assert_all_delivered(collector, tmp_path / f"{unique}.sqlite3", record_property)
    finally:
        collector.close()


def test_agent_sigkill_and_restart_loses_nothing_and_reuses_no_seq(
    mosquitto: MosquittoServer, unique: str, tmp_path: Path, record_property: pytest.RecordProperty
) -> None:
    collector = Collector(mosquitto, mqtt_topic("lab", unique, Channel.TELEMETRY), f"{unique}-c")
    config = agent_config(tmp_path, mosquitto, unique, extra="simulation_record = true\n")
    buffer = tmp_path / f"{unique}.sqlite3"
    agent = agent_process(config, tmp_path / "agent")
    try:
        agent.start()
        wait_for(lambda: len(collector.seqs()) >= 300, 60, "300 readings")
        agent.kill()
        # The record after SIGKILL: exactly the committed readings, everything delivered in it.
        recorded = [r.seq for r in read_generated(buffer)]
        assert recorded == list(range(read_counters(buffer).next_seq)), "no gap, no extra"
        assert collector.seqs() <= set(recorded), "nothing delivered that was not recorded"
        killed_at = max(collector.seqs())
        with agent_process(config, tmp_path / "agent"):
            wait_for(lambda: max(collector.seqs()) >= killed_at + 300, 60, "300 more readings")
        assert_all_delivered(collector, buffer, record_property, boots=2)
        record = {r.seq: r for r in read_generated(buffer)}
        assert set(record) == collector.seqs(), "the record is the ground truth"
        assert all(record[r.seq] == r for r in collector.readings), "as generated"
        counters = read_counters(buffer)
        assert (counters.recorded, counters.dropped) == (len(record), {})
    finally:
        agent.stop()
        collector.close()


def test_five_minute_partition_drains_completely(
    private_broker: MosquittoServer,
    unique: str,
    tmp_path: Path,
    record_property: pytest.RecordProperty,
) -> None:
    topic = mqtt_topic("lab", unique, Channel.TELEMETRY)
    collector = Collector(private_broker, topic, f"{unique}-c")
    buffer = tmp_path / f"{unique}.sqlite3"
    config = agent_config(tmp_path, private_broker, unique, hz=20)
    agent = agent_process(config, tmp_path / "agent")
    try:
        with agent:
            wait_for(lambda: len(collector.seqs()) >= 100, 60, "100 readings")
            private_broker.stop()
            partition_ns = time.time_ns()
            time.sleep(300)  # the partition: the broker is unreachable for five minutes
            with sqlite3.connect(f"file:{buffer}?mode=ro", uri=True) as db:
                rows = db.execute("SELECT seq, ts_ns FROM readings ORDER BY seq").fetchall()
            buffered = [seq for seq, _ in rows]
            # Exact whatever the load: the backlog is one contiguous run of seqs that starts
            # where delivery stopped and holds everything sampled since (nothing dropped).
            first, last = buffered[0], buffered[-1]
            assert buffered == list(range(first, last + 1)), "a gap in the backlog"
            assert collector.seqs() | set(buffered) == set(range(last + 1))
            assert read_counters(buffer).dropped == {}
            assert rows[-1][1] > partition_ns, "the agent kept sampling into its buffer"
            record_property("backlog", len(buffered))
            private_broker.start()
            wait_for(lambda: collector.seqs() >= set(range(last + 1)), 120, "the backlog")
        assert_all_delivered(collector, buffer, record_property)
    finally:
        collector.close()


def test_commands_and_alerts_from_the_cloud_reach_the_agent(
    mosquitto: MosquittoServer, unique: str, tmp_path: Path
) -> None:
    config = agent_config(tmp_path, mosquitto, unique, hz=5)
    config.write_text(
        config.read_text()
        + '[[outputs]]\nname = "warning-led"\npin = 5\nalert_rules = ["overheat"]\n'
    )
    settings = EdgeSettings.load(config)
    agent = Agent.build(settings, simulate=True)
    statuses = Collector.raw(mosquitto, mqtt_topic("lab", unique, Channel.STATUS), f"{unique}-s")
    thread = threading.Thread(target=agent.run)
    thread.start()
    try:
        wait_for(lambda: agent.link.connected, 30, "the agent to connect")

        def send(channel: Channel, message: Alert | Command | bytes) -> None:
            payload = message if isinstance(message, bytes) else encode(message)
            publish.single(
                mqtt_topic("lab", unique, channel),
                payload,
                qos=1,
                hostname=mosquitto.host,
                port=mosquitto.port,
            )

        def command(body: SetSampleRate | RequestStatus) -> Command:
            return Command(
                command_id=f"c{time.time_ns()}",
                device=unique,
                site="lab",
                ts_ns=time.time_ns(),
                body=body,
            )

        send(Channel.COMMANDS, command(SetSampleRate(sensor="temp", hz=20)))
        wait_for(lambda: agent.sampler.rate_hz("temp") == 20, 30, "the new sample rate")

        before = len(statuses.payloads)
        send(Channel.COMMANDS, command(RequestStatus()))
        wait_for(lambda: len(statuses.payloads) > before, 30, "a status on request")
        status = decode(statuses.payloads[-1], DeviceStatus)
        assert status.online
        assert status.device == unique

        alert = Alert(
            alert_id="a1",
            rule="overheat",
            state=AlertState.OPEN,
            device=unique,
            site="lab",
            ts_ns=time.time_ns(),
        )
        send(Channel.ALERTS, alert)
        wait_for(lambda: agent.outputs.is_on("warning-led"), 30, "the LED to go on")
        send(Channel.ALERTS, alert.model_copy(update={"state": AlertState.CLOSE}))
        wait_for(lambda: not agent.outputs.is_on("warning-led"), 30, "the LED to go off")

        send(Channel.COMMANDS, b"{not json")
        wait_for(lambda: agent.bad_messages == 1, 30, "the bad command to be counted")
        assert thread.is_alive(), "bad input never stops the agent"
    finally:
        agent.stop()
        thread.join(60)
        statuses.close()
    final = decode(statuses.payloads[-1], DeviceStatus)
    assert not final.online, "a clean stop reports offline"


def _tls_and_passwords(directory: Path) -> tuple[Path, str]:
    """A throwaway CA, a server certificate for 127.0.0.1 and a password file; returns the
    CA file and the Mosquitto config body."""
    directory.mkdir(parents=True)

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "1",
        "-subj",
        "/CN=fieldlink-test-ca",
    )
    openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    )
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "1",
        "-extfile",
        "san.ext",
    )
    for user, password in (("reader", "reader-secret"), ("pi-secure", "device-secret")):
        flags = ["-c"] if user == "reader" else []
        subprocess.run(
            ["mosquitto_passwd", "-b", *flags, str(directory / "passwd"), user, password],
            check=True,
            capture_output=True,
        )
    config = (
        f"allow_anonymous false\npassword_file {directory / 'passwd'}\n"
        f"max_queued_messages 0\n"
        f"cafile {directory / 'ca.pem'}\ncertfile {directory / 'server.pem'}\n"
        f"keyfile {directory / 'server.key'}\n"
    )
    return directory / "ca.pem", config


def test_tls_and_credentials_from_config(
    tmp_path: Path, record_property: pytest.RecordProperty
) -> None:
    ca_file, config_body = _tls_and_passwords(tmp_path / "pki")
    with MosquittoServer(tmp_path / "mosquitto", config=config_body) as broker:
        device = "pi-secure"
        collector = Collector(
            broker,
            mqtt_topic("lab", device, Channel.TELEMETRY),
            "reader",
            ca_file=ca_file,
            credentials=("reader", "reader-secret"),
        )
        config = agent_config(tmp_path, broker, device)
        config.write_text(
            config.read_text().replace(
                "[mqtt]\n",
                f'[mqtt]\ntls = true\nca_file = "{ca_file}"\nusername = "{device}"\n'
                'password = "wrong"\n',
            )
        )
        try:
            with agent_process(config, tmp_path / "refused") as refused:
                time.sleep(3)
                assert refused.running, "a refused connection never crashes the agent"
            assert collector.seqs() == set(), "nothing gets in with a wrong password"
            assert buffer_state(tmp_path / f"{device}.sqlite3")[1] > 0, "it kept buffering"

            config.write_text(config.read_text().replace('"wrong"', '"device-secret"'))
            with agent_process(config, tmp_path / "accepted"):
                wait_for(lambda: len(collector.seqs()) >= 300, 60, "300 readings over TLS")
            assert_all_delivered(
                collector, tmp_path / f"{device}.sqlite3", record_property, boots=2
            )
        finally:
            collector.close()
