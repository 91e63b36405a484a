"""The real drivers on MockFactory follow their waveforms; failures raise SensorError."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from gpiozero.pins.mock import MockFactory

from edge.errors import SensorError
from edge.sensors import SimFactory, Simulator
from edge.settings import SensorConfig, WaveformConfig, WaveformEvent

pytestmark = pytest.mark.unit


def constant(value: float, **kw: object) -> WaveformConfig:
    return WaveformConfig(shape="constant", mean=value, noise=0.0, **kw)  # type: ignore[arg-type]


@pytest.fixture(params=[MockFactory, SimFactory], ids=["bit-banged-spi", "fast-spi"])
def sim(request: pytest.FixtureRequest) -> Iterator[Simulator]:
    configs = [
        SensorConfig(
            name="temp",
            kind="analog",
            channel=0,
            unit="degC",
            calibration={"scale": 100.0, "offset": -50.0},  # type: ignore[arg-type]
            waveform=constant(
                21.0,
                schedule=[
                    WaveformEvent(at_s=120, kind="step", value=85.0),
                    WaveformEvent(at_s=200, duration_s=10, kind="dropout"),
                ],
            ),
        ),
        SensorConfig(
            name="soil",
            kind="analog",
            channel=5,
            calibration={"table": [(0.0, 0.0), (3.3, 100.0)]},  # type: ignore[arg-type]
            waveform=constant(40.0),
        ),
        SensorConfig(
            name="door",
            kind="digital",
            pin=22,
            waveform=WaveformConfig(shape="events", events_per_min=20, event_duration_s=1.0),
        ),
        SensorConfig(name="cpu", kind="cpu_temperature", unit="degC", waveform=constant(61.5)),
        SensorConfig(name="load", kind="load_average", waveform=constant(0.75)),
        SensorConfig(name="light", kind="light", pin=24, waveform=constant(0.5)),
    ]
    simulator = Simulator(configs, request.param(), seed=3, device="pi-07")
    yield simulator
    simulator.close()


def by_name(sim: Simulator, name: str):  # type: ignore[no-untyped-def]
    return next(d for d in sim.drivers if d.name == name)


def test_analog_channels_read_their_waveform_through_the_mcp3008(sim: Simulator) -> None:
    sim.drive_all(0.0)
    # 10-bit ADC over 3.3 V: one step is 0.32 degC for the TMP36 scaling.
    assert by_name(sim, "temp").read() == pytest.approx(21.0, abs=0.33)
    assert by_name(sim, "soil").read() == pytest.approx(40.0, abs=0.1)


def test_overheat_at_t120_and_dropout_make_a_failing_sensor(sim: Simulator) -> None:
    temp = by_name(sim, "temp")
    sim.drive(temp, 130.0)
    assert temp.read() == pytest.approx(85.0, abs=0.33)
    sim.drive(temp, 205.0)
    with pytest.raises(SensorError, match="dropout"):
        temp.read()
    sim.drive(temp, 215.0)
    assert temp.read() == pytest.approx(85.0, abs=0.33)


def test_digital_edges_are_reported(sim: Simulator) -> None:
    door = by_name(sim, "door")
    edges: list[float] = []
    door.watch(edges.append)
    for t in range(600):
        sim.drive(door, float(t))
    assert edges, "the door opened at least once in ten minutes"
    assert set(edges) == {0.0, 1.0}
    assert all(a != b for a, b in itertools.pairwise(edges)), "edges alternate"


def test_internal_devices_read_their_simulated_files(sim: Simulator) -> None:
    sim.drive_all(0.0)
    assert by_name(sim, "cpu").read() == pytest.approx(61.5)
    assert by_name(sim, "load").read() == pytest.approx(0.75)
